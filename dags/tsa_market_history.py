"""
### Kalshi market history: keep the KXTSAW quote history current

Every morning, store yesterday's KXTSAW candlesticks in the warehouse: first the series' events and
markets that were open or settling (status, result, expiration value), then each market's candles up to
midnight New York, resuming after its last stored candle. Markets settled before Kalshi's historical
cutoff are read from the `/historical` endpoints. Re-running a day adds nothing; a missed day is caught up
by the next run. Together with the trading runs' own order-book snapshots (the `quote_history` view) this
is the record `tsabot kalshi history --export` writes and the replay reads. Last, each week settled by
then and not yet scored is scored as `tsabot kalshi history --score` does: the model's point-in-time and
the market's P(YES) at each day's trading moment, what `blend` and `guarded` learn the market's weight from.

Backfill: trigger it with `start` and `end` (New York dates) to store the markets closing in that range
and all their candles instead, as `tsabot kalshi history --start --end` does (the offline demo pulls the
simulator's year of history this way). Empty (the default): yesterday's candles.

Logic lives in `tsa_bot.quotes` and `tsa_bot.replay.scores`; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from tsa_bot.core import market
from tsa_bot.forecast.calibration import CALIBRATION_WEEKS_PARAM
from tsa_bot.orchestration.context import current_run, fail_fast, kalshi_settings, task_defaults
from tsa_bot.quotes import tasks as quotes
from tsa_bot.replay import scores

NEW_YORK = market.NEW_YORK.key  # the zone name, as Airflow and pendulum take it


@dag(
    dag_id="tsa_market_history",
    # After midnight New York, when yesterday's last candles have closed.
    schedule=CronTriggerTimetable("15 6 * * *", timezone=NEW_YORK),
    start_date=pendulum.datetime(2024, 1, 1, tz=NEW_YORK),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=3, execution_timeout=timedelta(minutes=20)),
    params={
        "period": Param(60, enum=[60, 1440], description="Candle length in minutes: hourly or daily."),
        "start": Param(
            "", type="string", description="Backfill: first close date (YYYY-MM-DD); empty: none."
        ),
        "end": Param("", type="string", description="Backfill: last close date (YYYY-MM-DD), with start."),
        "calibration_weeks": Param(**CALIBRATION_WEEKS_PARAM, description="Scoring: calibration weeks."),
    },
    tags=["kalshi", "quotes", "history"],
    doc_md=__doc__,
)
def tsa_market_history():
    @task
    @fail_fast
    def refresh_markets() -> dict:
        """The series' events and markets open or settling yesterday (or closing in start..end)."""
        run = current_run()
        return quotes.refresh_markets(
            run.run_time, start=run.params["start"], end=run.params["end"], kalshi=kalshi_settings()
        )

    @task
    @fail_fast
    def fetch_candles(markets: dict) -> dict:
        """Those markets' candles up to midnight ending yesterday (a backfill: up to now), each resuming
        after its last one."""
        run = current_run()
        return quotes.fetch_candles(
            run.run_time,
            start=run.params["start"],
            end=run.params["end"],
            period=int(run.params["period"]),
            kalshi=kalshi_settings(),
        )

    @task(execution_timeout=timedelta(hours=1))  # a first run scores a downloaded year: ~100 Prophet fits
    @fail_fast
    def score_history() -> dict:
        """Score the settled weeks not yet scored: model vs market at each day's moment, point in time."""
        run = current_run()
        return scores.score_warehouse(
            run.run_time,
            period=int(run.params["period"]),
            calibration_weeks=int(run.params["calibration_weeks"]),
        )

    fetch_candles(refresh_markets()) >> score_history()


tsa_market_history()
