"""The backtest DAG with dag.test(): one mapped task per week, and the same result as `tsabot backtest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tsa_bot.local.cli import main

pytestmark = pytest.mark.slow

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"

# Two scored weeks, known days 2, calibrated on the 8 weeks before: 10 Prophet fits each way.
RANGE = {"start": "2025-03-01", "end": "2025-03-10", "known_days": 2, "calibration_weeks": 8}


@pytest.fixture
def backtest_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    return bag.dags["tsa_backtest"]


def test_the_mapped_backtest_equals_tsabot_backtest_on_the_same_range(backtest_dag, shared_csv, tmp_path):
    dag_json, cli_json = tmp_path / "dag.json", tmp_path / "cli.json"
    run = backtest_dag.test(
        logical_date=None, run_conf={"data": str(shared_csv), **RANGE, "output": str(dag_json)}
    )
    assert run.state == DagRunState.SUCCESS
    tis = run.get_task_instances()
    mapped = sorted(ti.map_index for ti in tis if ti.task_id == "forecast_week")
    assert mapped == list(range(10))  # the 2 scored weeks and the 8 calibration weeks, one task each
    assert {ti.state for ti in tis} == {TaskInstanceState.SUCCESS}

    code = main(
        [
            "backtest",
            "--data",
            str(shared_csv),
            "--start",
            RANGE["start"],
            "--end",
            RANGE["end"],
            "--known-days",
            str(RANGE["known_days"]),
            "--calibration-weeks",
            str(RANGE["calibration_weeks"]),
            "--workers",
            "1",
            "--json",
            str(cli_json),
        ]
    )
    assert code == 0
    from_dag, from_cli = json.loads(dag_json.read_text()), json.loads(cli_json.read_text())
    assert [w["week_start"] for w in from_dag["weeks"]] == ["2025-03-03", "2025-03-10"]
    assert from_dag == from_cli

    summary = next(ti for ti in tis if ti.task_id == "summarise").xcom_pull(task_ids="summarise")
    assert summary["json"] == str(dag_json) and summary["weeks"] == 2
    assert summary["mape"] == from_cli["summary"]["mape"]


def test_a_bad_range_fails_at_plan_on_the_first_try_and_forecasts_nothing(backtest_dag, shared_csv, tmp_path):
    run = backtest_dag.test(
        logical_date=None,
        run_conf={"data": str(shared_csv), **RANGE, "start": "2025-03-10", "end": "2025-03-01"},
    )
    assert run.state == DagRunState.FAILED
    plan = next(ti for ti in run.get_task_instances() if ti.task_id == "plan")
    assert plan.state == TaskInstanceState.FAILED and plan.try_number == 1
    assert not [ti for ti in run.get_task_instances() if ti.task_id == "forecast_week" and ti.map_index >= 0]
