"""The ``tsa_replay`` DAG with dag.test(): the warehouse's quote history replayed as `tsabot replay` does."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.records import DailyCount
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, truth_of
from tsa_bot.local.cli import main
from tsa_bot.quotes.interchange import write_quotes_file
from tsa_bot.replay import tasks
from tsa_bot.replay.commands import latest_replay_file
from tsa_bot.warehouse.tsa_daily import load_batch

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
# Two replayed weeks, and a third, later one in the history (the default range ends with it).
START, END, LAST = date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17)
RANGE = {"start": START.isoformat(), "end": END.isoformat(), "policy": "ladder", "period": 1440}


@pytest.fixture
def replay_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    return bag.get_dag("tsa_replay")


@pytest.fixture
def warehouse_history(tsa_env, warehouse_engine, shared_csv, tmp_path, capsys):
    """The shared TSA numbers and the simulator's crowd quotes of three weeks (daily candles), imported.

    The forecast cache is the run's (test_replay_cli fills it for the same weeks): its entries are keyed
    by the rows each fit read, so sharing it changes no result.
    """
    series = load_csv(shared_csv)
    days = [DailyCount(day.date(), int(value)) for day, value in series.items()]
    load_batch(warehouse_engine, days, seen_at=datetime(2026, 1, 2, tzinfo=UTC), run_key="t", pages=["csv"])
    quotes = tmp_path / "quotes.csv"
    write_quotes_file(history_quote_rows(HistorySeed(START, LAST, truth=truth_of(series))), quotes)
    assert main(["kalshi", "history", "--import", str(quotes), "--period", "1440"]) == 0
    capsys.readouterr()
    return warehouse_engine


@pytest.mark.slow
def test_the_dag_replays_the_warehouse_history_as_the_cli_does(
    replay_dag, warehouse_history, shared_csv, tmp_path, capsys
):
    run = replay_dag.test(logical_date=None, run_conf={**RANGE, "calibration_weeks": 8})
    assert run.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in run.get_task_instances()}
    saved = json.loads(latest_replay_file().read_text())
    assert saved.pop("saved_at")
    assert [w["event_ticker"] for w in saved["weeks"]] == ["KXTSAW-25MAR09", "KXTSAW-25MAR16"]
    assert saved["trades"] and saved["summary"]["trades"] == len(saved["trades"])
    assert saved["run"]["policy"] == "ladder"
    summary = _return_value(run)
    assert summary["saved"] == str(latest_replay_file()) and summary["weeks"] == summary["events"] == 2
    assert (summary["pnl"], summary["trades"]) == (saved["summary"]["pnl"], saved["summary"]["trades"])
    assert summary["beside_pnl"] == {name: b["pnl"] for name, b in saved["beside"].items()}
    evidence = ("pnl_ci90", "vs_baseline_ci90", "cents_per_contract", "weeks_won", "weeks_traded")
    assert {k: summary[k] for k in evidence} == {k: saved["summary"][k] for k in evidence}
    assert len(json.dumps(summary)) < 1000  # a summary for XCom, not the document

    # `tsabot replay` over the same range, the same TSA numbers (from the CSV) and the same forecast cache.
    out = tmp_path / "cli.json"
    args = ["--start", RANGE["start"], "--end", RANGE["end"], "--policy", "ladder", "--period", "1440"]
    code = main(["replay", "--data", str(shared_csv), *args, "--calibration-weeks", "8", "--json", str(out)])
    assert code == 0
    assert json.loads(out.read_text()) == saved
    capsys.readouterr()


def _return_value(run) -> dict:
    import sqlalchemy as sa
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = session.scalar(
            sa.select(XComModel.value).where(
                XComModel.dag_id == "tsa_replay",
                XComModel.run_id == run.run_id,
                XComModel.key == "return_value",
            )
        )
    return XComModel.deserialize_value(SimpleNamespace(value=stored))


@pytest.mark.slow
def test_an_unknown_policy_is_refused_before_the_run(replay_dag, warehouse_history):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match="martingale"):
        replay_dag.test(logical_date=None, run_conf={**RANGE, "policy": "martingale"})
    assert not latest_replay_file().exists()


@pytest.mark.slow
def test_bad_params_fail_the_task_once_with_one_line(replay_dag, warehouse_history, capsys):
    run = replay_dag.test(logical_date=None, run_conf={**RANGE, "start": "2025-03-10", "end": "2025-03-03"})
    assert run.state == DagRunState.FAILED
    (ti,) = run.get_task_instances()
    assert ti.state == TaskInstanceState.FAILED and ti.try_number == 1  # no retry of a bad param
    assert "ValidationError: start 2025-03-10 is after end 2025-03-03" in capsys.readouterr().out
    assert not latest_replay_file().exists()


def test_the_default_range_is_the_52_weeks_ending_with_the_last_settled_week(warehouse_history):
    assert tasks.default_range() == (date(2024, 3, 25), LAST)


def test_the_default_range_needs_a_settled_week(tsa_env, warehouse_engine):
    with pytest.raises(TsaBotError, match="no settled KXTSAW week in the warehouse's quote history"):
        tasks.default_range()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({**RANGE, "policy": "martingale"}, "policy must be one of kelly, ladder, blend, guarded, recorded"),
        ({**RANGE, "start": "2025-02-30"}, "start is not a date (YYYY-MM-DD): '2025-02-30'"),
        ({**RANGE, "end": ""}, "start and end go together"),
        ({**RANGE, "period": 5}, "period must be 60 or 1440"),
        ({**RANGE, "execution": "patient"}, "execution must be taker or maker, not 'patient'"),
    ],
)
def test_bad_params_are_one_line_errors_before_any_work(tsa_env, params, says):
    with pytest.raises(TsaBotError) as raised:
        tasks.replay(params)
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert not latest_replay_file().exists()
