"""Time loading TSA 2019-2025 into an empty warehouse.

Each repeat uses a brand-new database, and reports two figures:
- ``load``: validate + one-transaction upsert of the 2,557 rows (what the issue's "under 2 s" is about);
- ``end to end``: fetch the 8 pages over HTTP from the local page server, keep them raw, parse, and load.

Usage: ``.venv/bin/python benchmarks/load_history.py [--repeats 5] [--admin-url URL]``. Without
``--admin-url`` it uses the PostgreSQL on 127.0.0.1:5432 if it answers, else an embedded one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.sources.ingest import fetch_tsa, load_tsa
from tsa_bot.sources.offline import site_pages
from tsa_bot.sources.tsa_page import parse_page
from tsa_bot.sources.validate import validate_batch
from tsa_bot.warehouse.migrate import migrate
from tsa_bot.warehouse.tsa_daily import load_batch


def admin_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2).close()
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    except psycopg.Error:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp()), cleanup_mode="stop")
        return make_url(server.get_uri()).set(drivername="postgresql+psycopg").render_as_string(False)


def fresh_database(admin: str) -> tuple[str, callable]:
    name = f"tsabot_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    url = make_url(admin).set(database=name).render_as_string(False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'drop database "{name}" with (force)')
        engine.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    admin = admin_url(args.admin_url)
    rows = [row for html in site_pages().values() for row in parse_page(html)]
    today = datetime.now(UTC).date()

    load_times, e2e_times = [], []
    for repeat in range(args.repeats):
        url, drop = fresh_database(admin)
        engine = sa.create_engine(url)
        migrate(engine)
        started = time.perf_counter()
        batch = validate_batch(rows, today)
        summary = load_batch(
            engine, batch, seen_at=datetime.now(UTC), run_key=f"bench-{repeat}", pages=["all"]
        )
        load_times.append(time.perf_counter() - started)
        assert summary.rows_new == 2557, summary
        engine.dispose()
        drop()

        url, drop = fresh_database(admin)
        started = time.perf_counter()
        fetched = fetch_tsa(offline=True, warehouse_url=url)
        loaded = load_tsa(fetched["page_ids"], run_key=f"bench-e2e-{repeat}", warehouse_url=url)
        e2e_times.append(time.perf_counter() - started)
        assert loaded["rows_new"] == 2557, loaded
        drop()

    print(f"warehouse server: {make_url(admin).render_as_string(hide_password=True)}")
    print(f"rows: {len(batch):,} days 2019-01-01..2025-12-31, repeats: {args.repeats}")
    print(
        f"load (validate + one-transaction upsert): median {statistics.median(load_times):.3f} s, "
        f"max {max(load_times):.3f} s"
    )
    print(
        "end to end (8 pages over HTTP, raw copy, parse, load): "
        f"median {statistics.median(e2e_times):.3f} s, "
        f"max {max(e2e_times):.3f} s"
    )


if __name__ == "__main__":
    main()
