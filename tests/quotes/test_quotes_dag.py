"""The ``tsa_market_history`` DAG, run with dag.test() against the simulator's crowd market mid-week: it
stores the candles, then scores the weeks settled by the run (real Prophet fits, eight calibration weeks)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa
from airflow.utils.state import DagRunState, TaskInstanceState

from tsa_bot.core.publication import publication_time
from tsa_bot.core.records import DailyCount
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, running_simulator
from tsa_bot.kalshi_sim.history import shipped_truth
from tsa_bot.quotes.store import read_history
from tsa_bot.warehouse.tsa_daily import load_batch

pytestmark = pytest.mark.slow

OPEN = "KXTSAW-25OCT19"  # the week of Monday 2025-10-13, trading on the simulator's Wednesday
NOW = datetime(2025, 10, 15, 16, 0, 30, tzinfo=UTC)


@pytest.fixture
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("tsa_market_history")


@pytest.fixture
def wednesday_sim(tsa_env, monkeypatch, warehouse_engine):
    """The exchange on Wednesday 15 October 2025, and the TSA numbers published by then in the warehouse
    (first seen on TSA's schedule). The forecast cache is the run's (tests/replay/test_replay_scores.py
    fits these weeks too)."""
    published = [DailyCount(d, v) for d, v in sorted(shipped_truth().items()) if publication_time(d) <= NOW]
    load_batch(warehouse_engine, published, seen_at=NOW, run_key="test-tsa", pages=[])
    started = time.time()
    clock = lambda: NOW.timestamp() + (time.time() - started)
    weeks = HistorySeed(date(2025, 9, 22), date(2025, 10, 13))
    with running_simulator(read_rate=100_000, history=weeks, clock=clock) as sim:
        monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
        yield sim


def _candles(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("select * from quote_candles order by 1, 2, 3"))]


def _scores(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("select * from quote_scores order by 1, 2, 3, 4, 5"))]


def _run(dag, day: int):
    run = dag.test(
        logical_date=pendulum.datetime(2025, 10, day, 6, 15, tz="America/New_York"),
        run_conf={"calibration_weeks": 8},
    )
    assert run.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_the_dag_keeps_the_history_current_day_by_day(dag, wednesday_sim, warehouse_engine):
    _run(dag, 15)  # stores Tuesday the 14th's candles
    with warehouse_engine.connect() as conn:
        markets = conn.execute(
            sa.text(
                "select event_ticker, count(*), min(status), max(result) from quote_markets"
                " group by event_ticker order by min(close_time)"
            )
        ).all()
        newest = dict(
            conn.execute(
                sa.text(
                    "select m.event_ticker, max(c.end_ts) from quote_candles c"
                    " join quote_markets m using (ticker) where c.period_minutes = 60 group by m.event_ticker"
                )
            ).all()
        )
        open_done = conn.execute(
            sa.text("select bool_or(complete) from quote_downloads where ticker like :e"), {"e": OPEN + "-%"}
        ).scalar_one()
    # Open and recently settled weeks: the one that closed on Sunday the 5th, last week's, and this week's.
    assert [tuple(m) for m in markets] == [
        ("KXTSAW-25OCT05", 21, "finalized", "yes"),
        ("KXTSAW-25OCT12", 21, "finalized", "yes"),
        (OPEN, 21, "active", ""),
    ]
    midnight = datetime(2025, 10, 15, 4, tzinfo=UTC)  # Wednesday 00:00 in New York
    assert newest[OPEN] == midnight and open_done is False
    first = _candles(warehouse_engine)
    # The weeks settled by the run (the Sunday's number out), scored at each day's 10:00 candle; the open
    # week not.
    with warehouse_engine.connect() as conn:
        scored = conn.execute(
            sa.text(
                "select event_ticker, period_minutes, moments, count(distinct s.moment), count(*)"
                " from quote_score_weeks w"
                " join quote_scores s using (event_ticker, period_minutes, model_version)"
                " group by 1, 2, 3 order by 1"
            )
        ).all()
    assert [tuple(r[:4]) for r in scored] == [("KXTSAW-25OCT05", 60, 7, 7), ("KXTSAW-25OCT12", 60, 7, 7)]
    # Each moment scores the strikes quoted on both sides then (the simulator's deep strikes are one-sided).
    with warehouse_engine.connect() as conn:
        two_sided = conn.execute(
            sa.text(
                "select m.event_ticker, count(*) from quote_candles c join quote_markets m using (ticker)"
                " where c.period_minutes = 60 and c.yes_bid_close > 0 and c.yes_ask_close < 1"
                " and (m.event_ticker, c.end_ts) in (select event_ticker, moment from quote_scores)"
                " group by 1 order by 1"
            )
        ).all()
    assert [(r[0], r[4]) for r in scored] == [tuple(r) for r in two_sided]
    assert all(r[4] >= 7 for r in scored)
    scores = _scores(warehouse_engine)
    assert {r[3].astimezone(UTC).hour for r in scores} == {14}  # 10:00 New York (EDT)

    _run(dag, 15)  # the same day again: nothing new
    assert _candles(warehouse_engine) == first
    assert _scores(warehouse_engine) == scores

    _run(dag, 16)  # the next day: the open week's candles since midnight, up to the exchange's now
    added = sorted(set(_candles(warehouse_engine)) - set(first))
    assert {row[0].rsplit("-", 1)[0] for row in added} == {OPEN}
    assert len(added) == 21 * 12  # 05:00 ... 16:00 UTC
    assert max(row[2] for row in added) == datetime(2025, 10, 15, 16, tzinfo=UTC)
    assert _scores(warehouse_engine) == scores  # the open week is still open


BACKFILL = HistorySeed(date(2025, 6, 2), date(2025, 6, 23))  # KXTSAW-25JUN08 ... KXTSAW-25JUN29
CUTOFF = datetime(2025, 6, 20, tzinfo=UTC)  # KXTSAW-25JUN15 settled before it: archived


@pytest.fixture
def settled_sim(tsa_env, monkeypatch):
    with running_simulator(read_rate=100_000, history=BACKFILL, cutoff=CUTOFF.timestamp()) as sim:
        monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
        yield sim


def test_a_run_with_start_and_end_backfills_that_range(dag, settled_sim, warehouse_engine):
    """The weeks closing from start to end, whole (the archived one through /historical), nothing else."""
    conf = {"start": "2025-06-09", "end": "2025-06-22", "period": 1440}
    run = dag.test(logical_date=None, run_conf=conf)
    assert run.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in run.get_task_instances()}
    with warehouse_engine.connect() as conn:
        stored = read_history(conn, period=1440, series="KXTSAW")
    wanted = {"KXTSAW-25JUN15", "KXTSAW-25JUN22"}
    expected = [r for r in history_quote_rows(BACKFILL, period=1440) if r.event_ticker in wanted]
    assert len(expected) == 2 * 21 * 8 and stored == expected
    paths = [path for _, path in settled_sim.requests if path.endswith("/candlesticks")]
    assert sum(p.startswith("/trade-api/v2/historical/markets/KXTSAW-25JUN15-") for p in paths) == 21

    again = dag.test(logical_date=None, run_conf=conf)  # a second backfill of the range adds nothing
    assert again.state == DagRunState.SUCCESS
    with warehouse_engine.connect() as conn:
        assert read_history(conn, period=1440, series="KXTSAW") == stored


@pytest.mark.parametrize(
    ("conf", "says"),
    [
        ({"start": "2025-06-22", "end": "2025-06-09"}, "start 2025-06-22 is after end 2025-06-09"),
        ({"start": "2025-06-09"}, "start and end go together"),
        ({"start": "2025-06-31", "end": "2025-07-09"}, "start is not a date (YYYY-MM-DD): '2025-06-31'"),
    ],
)
def test_a_bad_range_fails_at_once_with_one_line(dag, settled_sim, conf, capsys, says):
    run = dag.test(logical_date=None, run_conf=conf)
    assert run.state == DagRunState.FAILED
    refresh = {ti.task_id: ti for ti in run.get_task_instances()}["refresh_markets"]
    assert refresh.state == TaskInstanceState.FAILED and refresh.try_number == 1  # no retry
    assert f"ValidationError: {says}" in capsys.readouterr().out
    assert not [p for _, p in settled_sim.requests if p.startswith("/trade-api/")]


def test_every_task_retries_and_has_a_timeout(dag):
    assert set(dag.tags) >= {"kalshi", "quotes"} and dag.doc_md
    assert str(dag.timetable.timezone) == "America/New_York"
    for task in dag.tasks:
        assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout.total_seconds() <= 3600
        assert task.doc_md or task.doc, task.task_id
