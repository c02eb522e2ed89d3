"""Every DAG imports cleanly, retries with backoff, is tagged and documented (the Astro integrity test)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db) -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "tsa_daily" in dagbag.dags


def test_tasks_retry_with_exponential_backoff_and_have_docs(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags and dag.doc_md, dag.dag_id
        for task in dag.tasks:
            assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id
            assert task.doc_md or task.doc, task.task_id


def test_schedule_is_after_tsa_publication_in_new_york(dagbag):
    timetable = dagbag.dags["tsa_daily"].timetable
    assert str(timetable.timezone) == "America/New_York"
    minute, hour = timetable.expression.split()[:2]
    assert (int(hour), int(minute)) >= (9, 0)


def test_dag_files_hold_wiring_only():
    """No DAG file defines helper functions or classes outside the DAG function: logic lives in tsa_bot."""
    for path in DAGS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        top_level = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert all(any(_is_dag_decorator(d) for d in n.decorator_list) for n in top_level), path.name


def _is_dag_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Name) and target.id == "dag"
