"""
### TSA daily: scrape, forecast, price and trade Kalshi's weekly TSA contract

Every morning after TSA publishes (by about 9 a.m. ET): scrape tsa.gov's checkpoint numbers and load
them keeping each value's first-published vintage (Kalshi settles KXTSAW on those), check the data,
forecast this week's mean daily passengers with Prophet conditioned on the days already published,
price every strike against the order book net of fees, decide within hard risk limits, place the orders
idempotently and reconcile fills.

Trading is `paper` by default; `demo` uses Kalshi's demo exchange; `live` needs both
`TSABOT_LIVE_TRADING_ENABLED=1` and the `live` param. Backfill runs see only what was published by
their date and trade only on paper. Logic lives in the `tsa_bot` package; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from tsa_bot.core import market
from tsa_bot.core.config import get_settings
from tsa_bot.forecast.calibration import CALIBRATION_WEEKS_PARAM
from tsa_bot.orchestration import daily
from tsa_bot.orchestration.context import current_run, fail_fast, kalshi_settings, retry_delay, task_defaults
from tsa_bot.trading.policies import DEFAULT_POLICY, policy_names

NEW_YORK = market.NEW_YORK.key  # the zone name, as Airflow and pendulum take it

RETRY_DELAY = retry_delay()
NETWORK_RETRIES = {"retries": 4, "retry_exponential_backoff": True}
# TSA is sometimes late: the quality gate retries (15 min, 30, 60, 60, 60) into the afternoon, then alerts.
LATE_PUBLICATION_RETRIES = {
    "retries": 5,
    "retry_delay": 15 * RETRY_DELAY,
    "max_retry_delay": 60 * RETRY_DELAY,
}


@dag(
    dag_id="tsa_daily",
    schedule=CronTriggerTimetable("30 9 * * *", timezone=NEW_YORK),
    # Backfills replay any day since; catchup is off, so this creates no runs by itself.
    start_date=pendulum.datetime(2023, 1, 1, tz=NEW_YORK),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=3, execution_timeout=timedelta(seconds=get_settings().task_timeout_s)),
    params={
        "offline": Param(False, type="boolean", description="Scrape the shipped TSA page set, not tsa.gov."),
        "full_history": Param(False, type="boolean", description="Re-fetch every year page since 2019."),
        "mode": Param("paper", enum=["paper", "demo", "live"], description="Where orders go."),
        "live": Param(False, type="boolean", description="This run's half of the live opt-in."),
        "kelly_fraction": Param(0.25, type="number", minimum=0, maximum=1),
        "min_edge": Param(0.02, type="number", minimum=0, description="Dollars per contract, after fees."),
        "max_order_contracts": Param(100, type="integer", minimum=0),
        "max_order_cost": Param(50, type="number", minimum=0, description="Dollars."),
        "max_contracts_per_market": Param(200, type="integer", minimum=0),
        "max_event_exposure": Param(200, type="number", minimum=0, description="Dollars."),
        "max_total_exposure": Param(500, type="number", minimum=0, description="Dollars."),
        "max_daily_loss": Param(100, type="number", minimum=0, description="Dollars."),
        "kill_switch": Param(False, type="boolean", description="Place no order at all."),
        "policy": Param(
            DEFAULT_POLICY,
            enum=policy_names(),
            description="How decide sizes the event (tsabot replay --policy compares them).",
        ),
        "market_weight": Param(
            0.5, type="number", minimum=0, maximum=1, description="The market's weight in blend."
        ),
        "execution": Param(
            None,
            type=["null", "string"],
            enum=[None, "taker", "maker"],
            description="taker: buy at the offer; maker: post-only at the bid. "
            "Empty: TSABOT_EXECUTION, else taker.",
        ),
        "calibration_weeks": Param(**CALIBRATION_WEEKS_PARAM),
    },
    tags=["tsa", "kalshi", "trading"],
    doc_md=__doc__,
)
def tsa_daily():
    # Each task finds the run's data in the warehouse by the run's key (``current_run()``); only the two
    # values a task reads travel by XCom: the fetched page ids, and the forecast's id and week.

    @task(**NETWORK_RETRIES)
    @fail_fast
    def ingest() -> dict:
        """Fetch the current TSA page (and any year page the warehouse lacks); keep the pages raw."""
        return daily.ingest(current_run())

    @task
    @fail_fast
    def load(fetched: dict) -> dict:
        """Parse, validate and upsert the fetched pages in one transaction; returns the run's counts."""
        return daily.load(current_run(), fetched)

    @task(**LATE_PUBLICATION_RETRIES)
    @fail_fast
    def quality_gate() -> dict:
        """The last two weeks are complete and today's number is in; a late TSA retries, then alerts."""
        return daily.quality_gate(current_run())

    @task
    @fail_fast
    def forecast() -> dict:
        """Prophet's calibrated distribution of this week's mean, given the days already published."""
        return daily.forecast(current_run())

    @task(**NETWORK_RETRIES)
    @fail_fast
    def fetch_market(forecast: dict) -> dict:
        """Snapshot the week's KXTSAW event: series fees, markets and order books."""
        return daily.fetch_market(current_run(), forecast, kalshi=kalshi_settings())

    @task
    @fail_fast
    def price(forecast: dict) -> dict:
        """Fair probability per strike against bid and ask, fees and expected value, saved per strike."""
        return daily.price(current_run(), forecast)

    @task(**NETWORK_RETRIES)
    @fail_fast
    def decide() -> dict:
        """Fractional-Kelly decisions; stale resting orders of earlier runs are cancelled."""
        return daily.decide(current_run(), kalshi=kalshi_settings())

    @task(**NETWORK_RETRIES)
    @fail_fast
    def place_orders() -> dict:
        """Risk-check and place each order at most once (deterministic client_order_id)."""
        return daily.place_orders(current_run(), kalshi=kalshi_settings())

    @task(**NETWORK_RETRIES)
    @fail_fast
    def reconcile() -> dict:
        """Fills and positions from the exchange (or the paper book) into the warehouse."""
        return daily.reconcile(current_run(), kalshi=kalshi_settings())

    @task(trigger_rule="all_done")
    @fail_fast
    def settle() -> dict:
        """Score finished weeks (Brier, log loss); settle the paper book on first-published numbers."""
        return daily.settle(current_run())

    loaded = load(ingest())
    week_forecast = loaded >> quality_gate() >> forecast()
    fetch_market(week_forecast) >> price(week_forecast) >> decide() >> place_orders() >> reconcile()
    # Settling past weeks needs only the loaded numbers; a failed trade today must not block it.
    loaded >> settle()


tsa_daily()
