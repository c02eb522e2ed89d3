"""Load TSA daily counts into the warehouse, keeping each value's first-published vintage.

A load is one transaction: stage the batch with COPY, record revisions against the latest values, upsert
``tsa_daily`` (first value and first-seen time never change), and write the ingest run's counts. If
anything fails, nothing of the batch is visible. Loads take a transaction-scoped advisory lock, so two at
once run one after the other: the second compares against what the first committed, and a revision is
recorded once (without it, two concurrent loads of one revised batch each recorded every revision).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from tsa_bot.core.records import DailyCount, FetchedPage
from tsa_bot.warehouse.engine import warehouse_errors

_LOAD_LOCK_KEY = 7_310_043  # any constant, other than the migrations' lock; shared by every loader


@dataclass(frozen=True)
class LoadSummary:
    """What one load did; small enough for an XCom."""

    ingest_run_id: int
    pages: list[str]
    rows_seen: int
    rows_new: int
    rows_revised: int
    rows_unchanged: int
    newest_date: date | None
    missing_dates: list[date] = field(default_factory=list)

    def as_json(self) -> dict:
        data = asdict(self)
        data["newest_date"] = self.newest_date.isoformat() if self.newest_date else None
        data["missing_dates"] = [d.isoformat() for d in self.missing_dates]
        return data


def store_raw_pages(engine: sa.Engine, pages: Sequence[FetchedPage]) -> list[int]:
    """Keep every fetched page as it arrived, so a parse can be replayed; returns their ids."""
    with warehouse_errors("storing raw pages"), engine.begin() as conn:
        return [
            conn.execute(
                sa.text(
                    "insert into tsa_raw_pages (url, fetched_at, sha256, html)"
                    " values (:url, :fetched_at, :sha, :html) returning id"
                ),
                {
                    "url": p.url,
                    "fetched_at": p.fetched_at,
                    "sha": hashlib.sha256(p.html.encode()).hexdigest(),
                    "html": p.html,
                },
            ).scalar_one()
            for p in pages
        ]


def read_raw_pages(engine: sa.Engine, page_ids: Sequence[int]) -> list[tuple[int, FetchedPage]]:
    with warehouse_errors("reading raw pages"), engine.connect() as conn:
        rows = conn.execute(
            sa.text("select id, url, fetched_at, html from tsa_raw_pages where id = any(:ids) order by id"),
            {"ids": list(page_ids)},
        ).all()
    missing = set(page_ids) - {r.id for r in rows}
    if missing:
        raise LookupError(f"raw pages {sorted(missing)} are not in the warehouse")
    return [(r.id, FetchedPage(r.url, r.fetched_at, r.html)) for r in rows]


def finished_run(engine: sa.Engine, run_key: str, page_ids: Sequence[int]) -> LoadSummary | None:
    """The summary of an already-finished load of the same run and raw pages (a retry after success)."""
    with warehouse_errors("reading ingest runs"), engine.connect() as conn:
        row = conn.execute(
            sa.text("select * from ingest_runs where run_key = :k and finished_at is not null"),
            {"k": run_key},
        ).first()
    if row is None or sorted(row.raw_page_ids) != sorted(page_ids):
        return None
    return _summary(row)


def load_batch(
    engine: sa.Engine,
    batch: Sequence[DailyCount],
    *,
    seen_at: datetime,
    run_key: str,
    pages: Sequence[str],
    missing_dates: Sequence[date] = (),
    raw_page_ids: Sequence[int] = (),
) -> LoadSummary:
    """Upsert a validated batch in one transaction and record the ingest run."""
    with warehouse_errors("loading the batch (rolled back; nothing was written)"), engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _LOAD_LOCK_KEY})
        run_id = conn.execute(
            sa.text(
                "insert into ingest_runs (run_key, started_at, pages, raw_page_ids) values (:k, :t, :p, :ids)"
                " on conflict (run_key) do update set started_at = excluded.started_at,"
                " pages = excluded.pages, raw_page_ids = excluded.raw_page_ids, finished_at = null"
                " returning id"
            ),
            {"k": run_key, "t": seen_at, "p": list(pages), "ids": list(raw_page_ids)},
        ).scalar_one()
        conn.exec_driver_sql(
            "create temp table tsa_stage (day date primary key, passengers integer not null) on commit drop"
        )
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy("copy tsa_stage (day, passengers) from stdin") as copy:
            for row in batch:
                copy.write_row((row.day, row.passengers))
        params = {"run": run_id, "seen": seen_at}
        conn.execute(
            sa.text(
                "insert into tsa_revisions (day, previous_value, new_value, seen_at, ingest_run_id)"
                " select s.day, d.latest_value, s.passengers, :seen, :run"
                " from tsa_stage s join tsa_daily d using (day) where d.latest_value <> s.passengers"
            ),
            params,
        )
        counts = conn.execute(
            sa.text(
                "select count(*) filter (where d.day is null) as new,"
                " count(*) filter (where d.latest_value <> s.passengers) as revised,"
                " count(*) filter (where d.latest_value = s.passengers) as unchanged,"
                " max(s.day) as newest"
                " from tsa_stage s left join tsa_daily d using (day)"
            )
        ).one()
        conn.execute(
            sa.text(
                "insert into tsa_daily as d (day, first_value, first_seen, first_ingest_run_id,"
                " latest_value, last_seen, last_ingest_run_id)"
                " select day, passengers, :seen, :run, passengers, :seen, :run from tsa_stage"
                " on conflict (day) do update set"
                " latest_value = excluded.latest_value, last_seen = excluded.last_seen,"
                " last_ingest_run_id = excluded.last_ingest_run_id,"
                " revision_count = d.revision_count"
                "   + (case when d.latest_value <> excluded.latest_value then 1 else 0 end)"
            ),
            params,
        )
        row = conn.execute(
            sa.text(
                "update ingest_runs set finished_at = clock_timestamp(), rows_seen = :seen_rows,"
                " rows_new = :new, rows_revised = :revised, rows_unchanged = :unchanged,"
                " newest_date = :newest, missing_dates = :missing where id = :run returning *"
            ),
            {
                "run": run_id,
                "seen_rows": len(batch),
                "new": counts.new,
                "revised": counts.revised,
                "unchanged": counts.unchanged,
                "newest": counts.newest,
                "missing": list(missing_dates),
            },
        ).one()
    return _summary(row)


def _summary(row: sa.Row) -> LoadSummary:
    return LoadSummary(
        ingest_run_id=row.id,
        pages=list(row.pages),
        rows_seen=row.rows_seen,
        rows_new=row.rows_new,
        rows_revised=row.rows_revised,
        rows_unchanged=row.rows_unchanged,
        newest_date=row.newest_date,
        missing_dates=list(row.missing_dates),
    )


@dataclass(frozen=True)
class WarehouseStatus:
    days: int
    first_date: date | None
    newest_date: date | None
    revisions: int


def warehouse_status(engine: sa.Engine) -> WarehouseStatus:
    with warehouse_errors("reading the warehouse status"), engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select count(*) as days, min(day) as first, max(day) as newest,"
                " (select count(*) from tsa_revisions) as revisions from tsa_daily"
            )
        ).one()
    return WarehouseStatus(row.days, row.first, row.newest, row.revisions)


def days_per_year(engine: sa.Engine) -> dict[int, int]:
    with warehouse_errors("reading the warehouse coverage"), engine.connect() as conn:
        rows = conn.execute(
            sa.text("select extract(year from day)::int as y, count(*) as n from tsa_daily group by 1")
        ).all()
    return {r.y: r.n for r in rows}


def first_published_as_of(engine: sa.Engine, as_of: datetime) -> list[DailyCount]:
    """Each day's first-published value, for the days that were known at ``as_of``.

    A day counts as known if we saw it by then, or if TSA's schedule had published it by then: days
    loaded from the archive after the fact carry a late first-seen time but were public on schedule.
    Kalshi settles on first-published numbers, so those are what forecasts learn from and condition on.
    """
    from tsa_bot.core.publication import publication_time

    with warehouse_errors("reading the daily series"), engine.connect() as conn:
        rows = conn.execute(
            sa.text("select day, first_value, first_seen from tsa_daily where day < :d order by day"),
            {"d": as_of.date() + timedelta(days=1)},
        ).all()
    known = [r for r in rows if r.first_seen <= as_of or publication_time(r.day) <= as_of]
    return [DailyCount(r.day, r.first_value) for r in known]
