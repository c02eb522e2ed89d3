"""
### TSA replay: the live strategy over the warehouse's quote history, beside the YoY baseline and nothing

`tsabot replay` as a DAG, triggered by hand: every day of every week whose Monday is in `start` .. `end`
is traded point in time on the warehouse's KXTSAW candles (`period`: hourly or daily, as
`tsa_market_history` stored them) with the warehouse's TSA numbers, using the forecast cache the daily
runs share. The result is kept as the latest replay, which the project's page shows
(`$TSABOT_STATE_DIR/replay/latest.json`); the task's XCom is its summary.

Empty `start` and `end` (the default): the 52 weeks ending with the newest settled week of the quote
history. A cold year takes a few minutes. Logic lives in `tsa_bot.replay`; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from tsa_bot.core import market
from tsa_bot.forecast.calibration import CALIBRATION_WEEKS_PARAM
from tsa_bot.orchestration.context import fail_fast, task_defaults
from tsa_bot.replay import tasks as replay
from tsa_bot.trading.policies import DEFAULT_POLICY, policy_names


@dag(
    dag_id="tsa_replay",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz=market.NEW_YORK.key),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=2, execution_timeout=timedelta(minutes=30)),
    params={
        "start": Param(
            "", type="string", description="First week's Monday (or a day before); empty: default."
        ),
        "end": Param("", type="string", description="The last Monday may fall on this day; with start."),
        "policy": Param(DEFAULT_POLICY, enum=policy_names(), description="How the strategy sizes an event."),
        "execution": Param(
            None,
            type=["null", "string"],
            enum=[None, "taker", "maker"],
            description="taker: buy at the offer; maker: rest at or inside the bid until the next moment. "
            "Empty: TSABOT_EXECUTION, else taker.",
        ),
        "period": Param(60, enum=[60, 1440], description="Candle length in minutes: hourly or daily."),
        "calibration_weeks": Param(**CALIBRATION_WEEKS_PARAM),
    },
    tags=["kalshi", "replay", "backtest"],
    doc_md=__doc__,
)
def tsa_replay():
    @task
    @fail_fast
    def run_replay(params: dict | None = None) -> dict:
        """Replay the range on the warehouse's history; keep it as the page's latest; return its summary."""
        return replay.replay(params or {})

    run_replay()


tsa_replay()
