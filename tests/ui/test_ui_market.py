"""Model against market on the page: Brier by weekday (hand-computed), equity, and implied beside fair."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tsa_bot.core.config import get_settings
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.replay.commands import latest_replay_file, save_latest
from tsa_bot.settlement.settle import score_week
from tsa_bot.trading import store
from tsa_bot.ui import queries
from tsa_bot.ui.app import create_app

WEEK = date(2025, 12, 29)
EVENT = "KXTSAW-26JAN04"  # the week of Monday 2025-12-29, settled at a mean of 2.45 M
STRIKES = (2_300_000, 2_400_000, 2_500_000)
# run id -> (moment, [(fair, bid, ask)] per strike). The Friday run starts at 03:00 UTC on Saturday:
# 22:00 on Friday in New York, the trading calendar's day.
RUNS = {
    "cli:tue": (
        datetime(2025, 12, 30, 14, 30, tzinfo=UTC),
        [("0.9", "0.80", "0.90"), ("0.6", "0.40", "0.50"), ("0.2", "0.10", "0.20")],
    ),
    "cli:fri": (
        datetime(2026, 1, 3, 3, 0, tzinfo=UTC),
        [("0.7", "0.95", "0.97"), ("0.5", "0.88", "0.92"), ("0.3", "0.02", "0.06")],
    ),
}
# Outcomes yes, yes, no. Tuesday: model (.01 + .16 + .04) / 3, market at the mids .85 .45 .15:
# (.0225 + .3025 + .0225) / 3. Friday: model (.09 + .25 + .09) / 3, market at .96 .90 .04:
# (.0016 + .01 + .0016) / 3.
TUE = {"brier_model": 0.07, "brier_market": 0.115833, "strikes_scored": 3, "runs": 1}
FRI = {"brier_model": 0.143333, "brier_market": 0.0044, "strikes_scored": 3, "runs": 1}
NONE = {"brier_model": None, "brier_market": None, "strikes_scored": 0, "runs": 0}


def _ticker(event: str, strike: int) -> str:
    return f"{event}-A{strike / 1e6:.2f}"


def _add_run(conn: sa.Connection, run_id: str, event: str, moment: datetime, quotes: list) -> None:
    store.start_run(conn, run_id, "paper", event, "http://127.0.0.1", {})
    conn.execute(
        sa.text("update trading_runs set started_at = :t where run_id = :r"), {"t": moment, "r": run_id}
    )
    conn.execute(
        sa.text(
            "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid, yes_ask,"
            " no_bid, no_ask, yes_ask_size, no_ask_size) values (:r, :e, :t, :s, :f, :b, :a, 1 - :a, 1 - :b,"
            " 10, 10)"
        ),
        [
            {
                "r": run_id,
                "e": event,
                "t": _ticker(event, s),
                "s": s,
                "f": f,
                "b": Decimal(b),
                "a": Decimal(a),
            }
            for s, (f, b, a) in zip(STRIKES, quotes, strict=True)
        ],
    )


def _market_result(conn: sa.Connection, strike: int, result: str) -> None:
    """The quote history's result of one market of the week's event (what the exchange settled it on)."""
    conn.execute(
        sa.text("insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"), {"e": EVENT}
    )
    conn.execute(
        sa.text(
            "insert into quote_markets (ticker, event_ticker, floor_strike, result, source)"
            " values (:t, :e, :s, :r, 'import')"
        ),
        {"t": _ticker(EVENT, strike), "e": EVENT, "s": strike, "r": result},
    )


@pytest.fixture
def market_warehouse(warehouse_engine: sa.Engine) -> sa.Engine:
    """Two runs of a settled week (Tuesday, Friday in New York), one run of an unsettled one, a decision
    and a paper settlement."""
    samples = tuple(float(x) for x in np.linspace(2_200_000, 2_700_000, 201))
    save_forecast(warehouse_engine, WeekForecast(WEEK, WEEK, 0, "test", samples), run_key="test")
    score_week(warehouse_engine, WEEK, 2_450_000.0)
    with warehouse_engine.begin() as conn:
        for run_id, (moment, quotes) in RUNS.items():
            _add_run(conn, run_id, EVENT, moment, quotes)
        # Next week is not settled: its Tuesday run must not count.
        _add_run(
            conn,
            "cli:next",
            "KXTSAW-26JAN11",
            datetime(2026, 1, 6, 14, 30, tzinfo=UTC),
            [("0.1", "0.80", "0.90")] * 3,
        )
        conn.execute(
            sa.text(
                "insert into trading_decisions (run_id, event_ticker, ticker, strike, fair_yes, action,"
                " count, limit_price, reason)"
                " values ('cli:tue', :e, :t, 2400000, 0.6, 'buy_yes', 5, 0.50, 'edge')"
            ),
            {"e": EVENT, "t": _ticker(EVENT, 2_400_000)},
        )
        store.save_settlement(
            conn,
            {
                "mode": "paper",
                "event_ticker": EVENT,
                "ticker": _ticker(EVENT, 2_400_000),
                "result": "yes",
                "expiration_value": "2450000",
                "net_position": 5,
                "gross_cost": Decimal("2.50"),
                "fees": Decimal("0.10"),
                "payout": 5,
                "pnl": Decimal("2.40"),
                "exchange_revenue": None,
            },
        )
    return warehouse_engine


def test_brier_by_weekday_scores_model_and_market_on_the_same_settled_strikes(market_warehouse):
    with market_warehouse.connect() as conn:
        scored = queries.market_brier(conn)
    by_day = {d.pop("day"): d for d in scored["by_day"]}
    assert list(by_day) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert by_day["Tue"] == TUE
    assert by_day["Fri"] == FRI  # New York's Friday, though the run started on Saturday in UTC
    assert all(by_day[d] == NONE for d in ("Mon", "Wed", "Thu", "Sat", "Sun"))
    assert scored["overall"] == {
        "brier_model": round((0.21 + 0.43) / 6, 6),
        "brier_market": round((0.3475 + 0.0132) / 6, 6),
        "strikes_scored": 6,
        "runs": 2,
    }


def test_a_one_sided_strike_is_not_scored_and_a_market_result_settles_first(market_warehouse):
    with market_warehouse.begin() as conn:
        conn.execute(
            sa.text("update trading_quotes set yes_bid = null where run_id = 'cli:fri' and strike = 2300000")
        )
        # The market's own result wins over the week's scored mean (here they disagree on purpose).
        _market_result(conn, 2_500_000, "yes")
    with market_warehouse.connect() as conn:
        by_day = {d["day"]: d for d in queries.market_brier(conn)["by_day"]}
    assert by_day["Fri"]["strikes_scored"] == 2
    # Friday, strikes 2.4 M (yes) and 2.5 M (now yes): model ((.5)^2 + (.7)^2) / 2.
    assert by_day["Fri"]["brier_model"] == round((0.25 + 0.49) / 2, 6)
    # Tuesday, 2.5 M now yes: model (.01 + .16 + .64) / 3.
    assert by_day["Tue"]["brier_model"] == round((0.01 + 0.16 + 0.64) / 3, 6)


def test_the_market_endpoint_and_page_show_brier_equity_and_implied_beside_fair(
    market_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        client = TestClient(create_app(engine_factory=lambda: market_warehouse))
        assert client.get("/api/market").json()["equity"]["replay"] is None
        doc = {
            "run": {"start": "2025-01-06", "end": "2025-12-29", "weeks": 52, "policy": "kelly"},
            "summary": {"pnl": 12.5, "trades": 3, "by_day": {"Mon": {}}},
            "equity": [
                {"at": "2025-01-13T14:00:00+00:00", "pnl": -2.0},
                {"at": "2025-01-20T14:00:00+00:00", "pnl": 12.5},
            ],
            "beside_equity": {"nothing": [{"at": "2025-01-13T14:00:00+00:00", "pnl": 0.0}]},
        }
        save_latest(doc)
        assert latest_replay_file() == tmp_path / "replay" / "latest.json"
        market = client.get("/api/market").json()
        replay = market["equity"]["replay"]
        assert replay["equity"] == doc["equity"] and replay["beside_equity"] == doc["beside_equity"]
        assert replay["summary"] == {"pnl": 12.5, "trades": 3} and replay["run"]["policy"] == "kelly"
        assert replay["saved_at"] is not None
        assert market["equity"]["settled"]["paper"] == [
            {
                "event_ticker": EVENT,
                "event_date": "2026-01-04",
                "settled_at": market["equity"]["settled"]["paper"][0]["settled_at"],
                "pnl": 2.4,
                "cumulative": 2.4,
            }
        ]
        by_day = {d["day"]: d for d in market["brier_by_day"]["by_day"]}
        assert by_day["Tue"]["brier_model"] == TUE["brier_model"]

        runs = {r["run_id"]: r for r in client.get("/api/orders").json()["runs"]}
        (decision,) = runs["cli:tue"]["decisions"]
        assert decision["fair_yes"] == 0.6 and decision["market_yes"] == pytest.approx(0.45)

        page = client.get("/").text
        assert 'id="chart-brier-by-day"' in page and 'id="chart-equity"' in page
        assert "replay (kelly)" in page and "paper" in page
        # One line per source in the equity chart, a marker per point; the settled total in its caption.
        assert _markers(page, "equity-replay-kelly") == 2 and _markers(page, "equity-replay-nothing") == 1
        assert _markers(page, "equity-paper") == 1 and 'settled paper <span class="pos">+2.40</span>' in page
        assert "model 0.1067, market 0.0601 over 6 strikes" in page
        assert '<td class="">0.600</td><td class="">0.450</td>' in page  # the decision: fair beside market
        assert "<script" not in page
    finally:
        get_settings.cache_clear()


def _svg(page: str, chart_id: str) -> str:
    found = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', page, re.S)
    assert found, f"no {chart_id} in the page"
    return found.group(0)


def _markers(page: str, line_id: str) -> int:
    """The points drawn on one line of the equity chart (matplotlib: one ``<use>`` per marker)."""
    found = re.search(rf'<g id="{line_id}">(.*?)</g>', _svg(page, "chart-equity"), re.S)
    assert found, f"no line {line_id} in the equity chart"
    return found.group(1).count("<use ")


def test_a_change_in_the_data_redraws_its_chart_and_only_its_chart(market_warehouse, tmp_path):
    client = TestClient(
        create_app(engine_factory=lambda: market_warehouse, replay_file=lambda: tmp_path / "no-replay.json")
    )
    first = client.get("/").text
    assert client.get("/").text == first  # nothing changed: the same page, its charts read back
    assert _markers(first, "equity-paper") == 1

    # A second paper event, never quoted here, settles: the equity chart is redrawn with it, the Brier
    # chart (quoted strikes only) is not touched.
    with market_warehouse.begin() as conn:
        store.save_settlement(
            conn,
            {
                "mode": "paper",
                "event_ticker": "KXTSAW-26JAN18",
                "ticker": _ticker("KXTSAW-26JAN18", 2_400_000),
                "result": "no",
                "expiration_value": "2350000",
                "net_position": 5,
                "gross_cost": Decimal("2.50"),
                "fees": Decimal("0.10"),
                "payout": 0,
                "pnl": Decimal("-2.60"),
                "exchange_revenue": None,
            },
        )
    settled = client.get("/").text
    assert _markers(settled, "equity-paper") == 2
    assert 'settled paper <span class="neg">-0.20</span>' in settled
    assert _svg(settled, "chart-brier-by-day") == _svg(first, "chart-brier-by-day")

    # A strike's market result arrives, against the scored mean: the Brier scores and their chart change.
    with market_warehouse.begin() as conn:
        _market_result(conn, 2_500_000, "yes")
    rescored = client.get("/").text
    assert _svg(rescored, "chart-brier-by-day") != _svg(settled, "chart-brier-by-day")
    assert "model 0.1067" not in rescored and "over 6 strikes" in rescored
    assert _svg(rescored, "chart-equity") == _svg(settled, "chart-equity")


def test_an_unreadable_replay_file_is_no_replay(tmp_path):
    (tmp_path / "latest.json").write_text("{not json")
    assert queries.replay_equity(tmp_path / "latest.json") is None
    assert queries.replay_equity(tmp_path / "missing.json") is None
