"""Two loads of the same revised batch at once record each revision once (real PostgreSQL, two threads)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event

from tsa_bot.core.records import DailyCount
from tsa_bot.warehouse.tsa_daily import load_batch

T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
FIRST = [DailyCount(date(2025, 12, 1) + timedelta(days=k), 2_400_000 + 10_000 * k) for k in range(31)]
REVISED = [DailyCount(r.day, r.passengers + 1_234) for r in FIRST]


class Rendezvous:
    """Holds each arriving load until both have arrived (or ``patience`` runs out: one may be waiting on
    a lock the other holds, which is the point)."""

    def __init__(self, parties: int = 2, patience: float = 3.0) -> None:
        self.parties, self.patience = parties, patience
        self.arrived = 0
        self.condition = threading.Condition()

    def arrive(self) -> None:
        with self.condition:
            self.arrived += 1
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.arrived >= self.parties, timeout=self.patience)


def test_two_loads_of_the_same_revised_batch_at_once_record_each_revision_once(warehouse_url):
    engine = sa.create_engine(warehouse_url, pool_size=4)
    load_batch(engine, FIRST, seen_at=T0, run_key="first", pages=["page"])
    rendezvous = Rendezvous()

    def hold_before_finishing(conn, cursor, statement, parameters, context, executemany):
        # Both loads have staged and recorded their revisions; neither has committed yet.
        if statement.startswith("update ingest_runs set finished_at"):
            rendezvous.arrive()

    event.listen(engine, "before_cursor_execute", hold_before_finishing)
    later = T0 + timedelta(days=7)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(load_batch, engine, REVISED, seen_at=later, run_key=key, pages=["page"])
                for key in ("concurrent-a", "concurrent-b")
            ]
            summaries = [f.result(timeout=60) for f in futures]
    finally:
        event.remove(engine, "before_cursor_execute", hold_before_finishing)

    with engine.connect() as conn:
        revisions = conn.execute(
            sa.text("select day, previous_value, new_value from tsa_revisions order by day")
        ).all()
        counts = conn.execute(sa.text("select distinct revision_count from tsa_daily")).scalars().all()
    engine.dispose()
    assert len(revisions) == 31, f"{len(revisions)} rows for 31 revisions"
    assert revisions == [(a.day, a.passengers, b.passengers) for a, b in zip(FIRST, REVISED, strict=True)]
    assert counts == [1]
    assert sorted((s.rows_revised, s.rows_unchanged) for s in summaries) == [(0, 31), (31, 0)]
