"""
### TSA backtest: the weekly-mean forecaster against the YoY baseline, one mapped task per week

`tsabot backtest` as a DAG, for ranges too long for one machine: `plan` lists the weeks to forecast
(the range's Mondays and the calibration weeks before them), `forecast_week` is mapped over them
(dynamic task mapping), so under the CeleryExecutor the Prophet fits spread over every worker, and
`summarise` calibrates and scores the range and writes the same JSON document as `tsabot backtest`.

Trigger it with the `data` param (a `date,passengers` CSV readable by the workers); the result goes to
`output`, else `$TSABOT_STATE_DIR/backtests/`. Logic lives in `tsa_bot.forecast.backtest_steps`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from tsa_bot.core import market
from tsa_bot.forecast import backtest_steps
from tsa_bot.forecast.calibration import CALIBRATION_WEEKS_PARAM
from tsa_bot.orchestration.context import fail_fast, task_defaults


@dag(
    dag_id="tsa_backtest",
    schedule=None,
    start_date=pendulum.datetime(2023, 1, 1, tz=market.NEW_YORK.key),
    catchup=False,
    default_args=task_defaults(retries=2, execution_timeout=timedelta(minutes=10)),
    params={
        "data": Param(type="string", minLength=1, description="CSV with date,passengers, on the workers."),
        "start": Param(type="string", format="date", description="First week's Monday (or a day before)."),
        "end": Param(type="string", format="date", description="Last day a scored week may start on."),
        "known_days": Param(0, type="integer", minimum=0, maximum=6, description="Days already known."),
        "calibration_weeks": Param(**CALIBRATION_WEEKS_PARAM),
        "output": Param("", type="string", description="Result JSON path; empty: the state dir."),
    },
    tags=["tsa", "forecast", "backtest"],
    doc_md=__doc__,
)
def tsa_backtest():
    @task
    @fail_fast
    def plan(params: dict | None = None) -> list[str]:
        """The weeks to forecast: the range's Mondays and the calibration weeks before the first."""
        return backtest_steps.plan(params)

    # A mapped task takes its doc from the decorator, not from the docstring.
    @task(
        execution_timeout=timedelta(minutes=30),
        doc_md="One week's point forecasts (one Prophet fit per trend setting), from rows before its end.",
    )
    @fail_fast
    def forecast_week(week: str, params: dict | None = None) -> dict:
        return backtest_steps.forecast_week(params, week)

    @task
    @fail_fast
    def summarise(forecasts: list[dict], params: dict | None = None) -> dict:
        """Calibrate each scored week on the weeks before it, score the range, write the JSON."""
        return backtest_steps.summarise(params, forecasts)

    summarise(forecast_week.expand(week=plan()))


tsa_backtest()
