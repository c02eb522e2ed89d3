"""The page and endpoints on an empty warehouse, an unreachable one, and a year of history (with timing)."""

from __future__ import annotations

import json
import re
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from ui_testkit import fill_a_year

from tsa_bot.core.errors import WarehouseUnavailable
from tsa_bot.ui.app import create_app
from tsa_bot.ui.charts import fan_chart, strike_chart

ENDPOINTS = ("/api/this-week", "/api/orders", "/api/history", "/api/market", "/api/health")


def test_an_empty_warehouse_renders_a_clear_empty_state(warehouse_engine, tmp_path):
    client = TestClient(
        create_app(engine_factory=lambda: warehouse_engine, replay_file=lambda: tmp_path / "no-replay.json")
    )

    page = client.get("/")
    assert page.status_code == 200
    assert 'id="empty-state"' in page.text and "The warehouse is empty" in page.text
    assert "<svg" not in page.text  # no chart without data, only empty messages
    assert client.get("/api/this-week").json() == {"forecast": None, "known": [], "run": None, "strikes": []}
    assert client.get("/api/orders").json() == {"runs": []}
    history = client.get("/api/history").json()
    assert history["weeks"] == [] and history["pnl"] == {} and history["revision_count"] == 0
    health = client.get("/api/health").json()
    assert health["last_ingest"] is None and health["tsa_days"] == 0 and health["risk_limits"] == []
    market = client.get("/api/market").json()
    assert market["equity"] == {"replay": None, "settled": {}}
    assert market["brier_by_day"]["overall"]["strikes_scored"] == 0
    assert "No settled week with both a model and a market price yet" in page.text


def test_an_unreachable_warehouse_says_so():
    def down() -> sa.Engine:
        raise WarehouseUnavailable("cannot connect to the warehouse at postgresql://x@127.0.0.1:1/db")

    client = TestClient(create_app(engine_factory=down))
    page = client.get("/")
    assert page.status_code == 503 and "Warehouse unavailable" in page.text and "127.0.0.1:1" in page.text
    for path in ENDPOINTS:
        assert client.get(path).status_code == 503


def test_charts_handle_a_single_week_and_missing_prices():
    week = {"week_start": "2025-12-29", "q10": 1.0e6, "q25": 1.1e6, "q50": 1.2e6, "q75": 1.3e6}
    svg = fan_chart([week | {"q90": 1.4e6, "actual": None}])
    assert svg.count('class="pt forecast"') == 1 and 'class="band"' in svg
    assert strike_chart([{"strike": 2_000_000, "fair_yes": None}]).startswith('<p class="empty">')


@pytest.mark.slow
def test_a_year_of_history_renders_fast(warehouse_engine, tmp_path, capsys):
    fill_a_year(warehouse_engine)
    client = TestClient(
        create_app(engine_factory=lambda: warehouse_engine, replay_file=lambda: tmp_path / "no-replay.json")
    )
    client.get("/")  # warm the pool

    timings = {}
    for path in ("/", *ENDPOINTS):
        start = time.perf_counter()
        for _ in range(5):
            response = client.get(path)
            assert response.status_code == 200
        timings[path] = (time.perf_counter() - start) / 5
    with capsys.disabled():
        seconds = json.dumps({k: round(v, 3) for k, v in timings.items()})
        print(f"\nUI with a year of history, mean of 5 GETs (s): {seconds}")

    page = client.get("/").text
    assert page.count('class="pt forecast"') == 52 and page.count('class="pt actual"') == 52
    # The paper P&L of the 52 settled weeks is drawn once, in the equity chart (no chart of its own).
    equity = re.search(r'<svg[^>]*id="chart-equity".*?</svg>', page, re.S).group(0)
    assert re.search(r'<g id="equity-paper">(.*?)</g>', equity, re.S).group(1).count("<use ") == 52
    assert 'data-chart="pnl"' not in page and "P&amp;L by mode" not in page
    history = client.get("/api/history").json()
    assert sum(b["n"] for b in history["calibration"]) == 52 * 7 * 35
    assert history["pnl"]["paper"][0]["event_date"] == "2025-01-12"
    assert len(history["brier"]) == 52
    assert client.get("/api/this-week").json()["forecast"]["week_start"] == "2025-12-29"
    assert len(client.get("/api/orders").json()["runs"]) == 5
    # Every run quoted 15 strikes on both sides, each week settled: 52 weeks x 7 days x 15 strikes scored.
    market = client.get("/api/market").json()["brier_by_day"]
    assert market["overall"]["strikes_scored"] == 52 * 7 * 15
    assert sum(d["runs"] for d in market["by_day"]) == 52 * 7  # each on the weekday it started (today)
    assert 'id="chart-brier-by-day"' in page and 'id="chart-equity"' in page
    assert timings["/"] < 3.0, timings  # generous: the figure is reported, the bound only catches a blow-up
