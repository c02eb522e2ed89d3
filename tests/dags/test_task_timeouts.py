"""Every task of every DAG has an execution_timeout: a hung fetch or a stuck fit cannot hold a slot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


def test_every_task_of_every_dag_has_an_execution_timeout(airflow_db, monkeypatch):
    monkeypatch.setenv("TSABOT_TASK_TIMEOUT_S", "900")
    from tsa_bot.core.config import get_settings

    get_settings.cache_clear()
    try:
        bag = DagBag(dag_folder=str(DAGS_DIR))
    finally:
        get_settings.cache_clear()
    assert bag.import_errors == {} and bag.dags
    missing = [
        f"{dag.dag_id}.{task.task_id}"
        for dag in bag.dags.values()
        for task in dag.tasks
        if not task.execution_timeout or task.execution_timeout <= timedelta(0)
    ]
    assert missing == [], f"tasks without an execution_timeout: {missing}"
    daily = bag.dags["tsa_daily"]
    assert {t.execution_timeout for t in daily.tasks} == {timedelta(seconds=900)}  # from the setting
