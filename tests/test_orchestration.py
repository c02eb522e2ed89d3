"""How a DAG run's context becomes the RunInfo every step reads (unit tests with stand-in contexts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from airflow.utils.types import DagRunType

from tsa_bot.orchestration import run_info


def context(run_type, logical_date, run_after=datetime(2026, 11, 24, 14, 30, tzinfo=UTC), params=None):
    return {
        "dag": SimpleNamespace(dag_id="tsa_daily"),
        "run_id": "the-run",
        "dag_run": SimpleNamespace(run_type=run_type, run_after=run_after),
        "logical_date": logical_date,
        "params": params or {"mode": "live", "live": True},
    }


def test_backfill_runs_replay_on_paper_only():
    run = run_info(context(DagRunType.BACKFILL_JOB, datetime.now(UTC)))
    assert run.backfill and run.params["mode"] == "paper" and run.params["live"] is False
    assert run.run_key == f"tsa_daily/{run.run_time.isoformat()}"


def test_a_past_dated_manual_run_is_a_replay_too():
    run = run_info(context(DagRunType.MANUAL, datetime.now(UTC) - timedelta(days=3)))
    assert run.backfill and run.params["mode"] == "paper"


def test_a_manual_run_without_logical_date_acts_now_and_keeps_its_params():
    run = run_info(context(DagRunType.MANUAL, None))
    assert not run.backfill and run.run_time == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert run.run_key == "tsa_daily/the-run"
    assert run.params == {"mode": "live", "live": True}
