"""Time the UI page (``GET /``) over a year of history: cold (every chart drawn) and warm (charts reused).

    .venv/bin/python benchmarks/ui_render.py [--repeats 20] [--admin-url URL]

A brand-new warehouse (dropped at the end) gets the year ``tests/ui/ui_testkit.fill_a_year`` writes for the
UI tests: 52 weeks forecast every morning and scored, a paper trading run a day with 15 quotes, every
week settled. Figures, in seconds, each the median of ``--repeats`` GETs after one that opens the pool:
- ``cold``: the chart caches emptied before each GET, as after the data changed: every chart drawn;
- ``warm``: the data unchanged since the GET before, so every chart comes from its cache;
- ``queries``: the warehouse reads alone (what a warm page cannot avoid).
Without ``--admin-url`` it uses the PostgreSQL on 127.0.0.1:5432 if it answers, else an embedded one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from load_history import admin_url, fresh_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ui"))
from ui_testkit import fill_a_year

from tsa_bot.ui import queries
from tsa_bot.ui.app import create_app
from tsa_bot.ui.chart_cache import clear_chart_caches
from tsa_bot.warehouse.migrate import migrate


def _median_seconds(
    repeats: int, step: Callable[[], object], before: Callable[[], object] | None = None
) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    url, drop = fresh_database(admin_url(args.admin_url))
    engine = sa.create_engine(url)
    try:
        migrate(engine)
        fill_a_year(engine)
        no_replay = Path(tempfile.mkdtemp()) / "no-replay.json"
        client = TestClient(create_app(engine_factory=lambda: engine, replay_file=lambda: no_replay))

        def page() -> None:
            assert client.get("/").status_code == 200

        def read_everything() -> None:
            with engine.connect() as conn:
                for read in (queries.this_week, queries.history, queries.health, queries.market_brier):
                    read(conn)
                queries.orders(conn, runs=5)
                queries.settled_pnl(conn)

        started = time.perf_counter()
        page()
        first = time.perf_counter() - started
        figures = {
            "first": first,
            "cold": _median_seconds(args.repeats, page, before=clear_chart_caches),
            "warm": _median_seconds(args.repeats, page),
            "queries": _median_seconds(args.repeats, read_everything),
        }
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
    finally:
        engine.dispose()
        drop()


if __name__ == "__main__":
    main()
