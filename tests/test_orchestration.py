"""How a DAG run's context becomes the RunInfo every step reads (unit tests with stand-in contexts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from airflow.utils.types import DagRunType

from tsa_bot.orchestration.context import run_info


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


def test_the_kalshi_connection_reaches_the_steps_in_memory_and_the_environment_is_left_alone(monkeypatch):
    import json
    import os

    from tsa_bot.orchestration.context import kalshi_settings

    monkeypatch.setenv("KALSHI_API_BASE", "http://127.0.0.1:9/trade-api/v2")
    monkeypatch.delenv("KALSHI_KEY_ID", raising=False)
    connection = {
        "conn_type": "http",
        "host": "127.0.0.1/trade-api/v2",
        "schema": "http",
        "port": 8765,
        "login": "key-from-airflow",
        "password": "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n",
    }
    monkeypatch.setenv("AIRFLOW_CONN_KALSHI", json.dumps(connection))
    before = dict(os.environ)
    settings = kalshi_settings()
    assert dict(os.environ) == before  # nothing written for a later step, or another task, to find
    assert settings.api_base == "http://127.0.0.1:8765/trade-api/v2"
    assert settings.key_id == "key-from-airflow" and settings.private_key_pem.startswith(b"-----BEGIN")
    assert "not-a-real-key" not in repr(settings)
