"""The page and endpoints on an empty warehouse, an unreachable one, and a year of history (with timing)."""

from __future__ import annotations

import json
import re
import time
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tsa_bot.core.errors import WarehouseUnavailable
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.settlement.settle import score_week
from tsa_bot.trading import store
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


def _run_id(day: date) -> str:
    return f"tsa_daily/scheduled__{day}T14:30:00+00:00"


def _fill_a_year(engine: sa.Engine, weeks: int = 52) -> None:
    """52 weeks, each forecast every morning (7 forecasts) and scored, a trading run a day with 15 quotes
    and positions, and every week's paper event settled: the real store functions where there are some."""
    rng = np.random.default_rng(7)
    first = date(2025, 1, 6)
    strikes = range(2_100_000, 2_800_001, 50_000)
    for w in range(weeks):
        week = first + timedelta(weeks=w)
        actual = 2_450_000 + 150_000 * np.sin(w / 8) + rng.normal(0, 40_000)
        for k in range(7):
            centre = actual + rng.normal(0, 60_000 / (k + 1))
            samples = tuple(sorted(float(x) for x in rng.normal(centre, 70_000 / (k + 1), 400)))
            f = WeekForecast(week, week + timedelta(days=k), k, "prophet-anchored-v2", samples)
            save_forecast(engine, f, run_key=_run_id(week + timedelta(days=k)))
        score_week(engine, week, float(actual))
        event = f"KXTSAW-{(week + timedelta(days=6)).strftime('%y%b%d').upper()}"
        with engine.begin() as conn:
            for k in range(7):
                run_id = _run_id(week + timedelta(days=k))
                store.start_run(conn, run_id, "paper", event, "http://127.0.0.1", {"max_event_exposure": 200})
                conn.execute(
                    sa.text(
                        "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid,"
                        " yes_ask, no_bid, no_ask, yes_ask_size, no_ask_size, ev_yes, ev_no)"
                        " values (:r, :e, :t, :s, 0.5, 0.45, 0.5, 0.5, 0.55, 10, 10, 0.01, -0.05)"
                    ),
                    [{"r": run_id, "e": event, "t": f"{event}-A{s / 1e6:.2f}", "s": s} for s in strikes],
                )
                store.save_positions(
                    conn,
                    run_id,
                    "paper",
                    event,
                    [{"ticker": f"{event}-A2.40", "position": 10, "exposure": 5, "fees": 0.1}],
                )
                store.finish_run(conn, run_id, {"orders": 1})
            pnl = Decimal(str(round(rng.normal(2, 5), 4)))
            store.save_settlement(
                conn,
                {
                    "mode": "paper",
                    "event_ticker": event,
                    "ticker": f"{event}-A2.40",
                    "result": "yes" if actual > 2_400_000 else "no",
                    "expiration_value": str(round(actual, 2)),
                    "net_position": 10,
                    "gross_cost": 5,
                    "fees": Decimal("0.1"),
                    "payout": 10 if actual > 2_400_000 else 0,
                    "pnl": pnl,
                    "exchange_revenue": None,
                },
            )


@pytest.mark.slow
def test_a_year_of_history_renders_fast(warehouse_engine, tmp_path, capsys):
    _fill_a_year(warehouse_engine)
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
    pnl_chart = re.search(r'<svg[^>]*data-chart="pnl".*?</svg>', page, re.S).group(0)
    assert pnl_chart.count('class="pt"') == 52
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
