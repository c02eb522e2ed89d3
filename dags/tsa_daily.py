"""
### TSA daily

Every morning after TSA publishes (by about 9 a.m. ET), scrape tsa.gov's checkpoint numbers and load
them into the warehouse, keeping each value's first-published vintage: Kalshi settles KXTSAW on the
numbers as first published.

Forecast, pricing and trading tasks join this DAG in later releases. Logic lives in the `tsa_bot`
package; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from tsa_bot.alerts import on_task_failure
from tsa_bot.ingest import fetch_tsa, load_tsa
from tsa_bot.orchestration import fail_fast, run_key

NEW_YORK = "America/New_York"


@dag(
    dag_id="tsa_daily",
    schedule=CronTriggerTimetable("30 9 * * *", timezone=NEW_YORK),
    start_date=pendulum.datetime(2026, 1, 1, tz=NEW_YORK),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": [on_task_failure],
    },
    params={
        "offline": Param(False, type="boolean", description="Scrape the shipped TSA page set, not tsa.gov."),
        "full_history": Param(False, type="boolean", description="Re-fetch every year page since 2019."),
    },
    tags=["tsa", "kalshi", "ingest"],
    doc_md=__doc__,
)
def tsa_daily():
    @task
    @fail_fast
    def ingest() -> dict:
        """Fetch the current TSA page (and any year page the warehouse lacks); keep the pages raw."""
        params = get_current_context()["params"]
        return fetch_tsa(offline=params["offline"], full_history=params["full_history"])

    @task
    @fail_fast
    def load(fetched: dict) -> dict:
        """Parse, validate and upsert the fetched pages in one transaction; returns the run's counts."""
        return load_tsa(fetched["page_ids"], run_key=run_key(get_current_context()))

    load(ingest())


tsa_daily()
