"""The page's maker panels against a real PostgreSQL: resting orders with their age and price against the
book, each fill's role and fee, maker beside taker in the replay panel, and the record ``recorded`` trades
on, per known-days count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tsa_bot.replay.commands import save_latest
from tsa_bot.ui.app import create_app

EVENT = "KXTSAW-26FEB15"
HOSTILE = "KXTSAW-26FEB15-<b>x</b>"


def _seed(engine: sa.Engine) -> None:
    placed = datetime.now(UTC) - timedelta(days=2, hours=3)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into trading_runs (run_id, mode, event_ticker, api_host, status)"
                " values ('r1', 'demo', :e, '127.0.0.1', 'finished')"
            ),
            {"e": EVENT},
        )
        orders = [
            # A YES bid at 0.69 against a 0.68 / 0.72 book: inside the spread by a cent.
            ("c1", "o1", f"{EVENT}-A2.25", "yes", "bid", "0.69", 10, 4, "resting", "maker"),
            # A NO bid at 0.66 (YES ask 0.34) against NO 0.68 / 0.72: behind the bid by 2 cents.
            ("c2", "o2", f"{EVENT}-A2.35", "no", "ask", "0.34", 5, 0, "resting", "maker"),
            ("c3", "o3", HOSTILE, "yes", "bid", "0.50", 3, 0, "resting", "maker"),
            ("c4", "o4", f"{EVENT}-A2.30", "yes", "bid", "0.52", 5, 5, "executed", "taker"),
        ]
        for coid, oid, ticker, direction, side, price, count, filled, status, role in orders:
            conn.execute(
                sa.text(
                    "insert into trading_orders (run_id, mode, client_order_id, order_id, event_ticker,"
                    " ticker, direction, book_side, yes_price, count, filled_count, status, liquidity,"
                    " created_at, expires_at) values ('r1', 'demo', :c, :o, :e, :t, :d, :s, :p, :n, :f, :st,"
                    " :l, :at, '2026-02-16T04:44:00Z')"
                ),
                {
                    "c": coid,
                    "o": oid,
                    "e": EVENT,
                    "t": ticker,
                    "d": direction,
                    "s": side,
                    "p": Decimal(price),
                    "n": count,
                    "f": filled,
                    "st": status,
                    "l": role,
                    "at": placed,
                },
            )
        for ticker, bid, ask in ((f"{EVENT}-A2.25", "0.68", "0.72"), (f"{EVENT}-A2.35", "0.28", "0.32")):
            conn.execute(
                sa.text(
                    "insert into trading_snapshots (run_id, ticker, strike, yes_bid, yes_ask, book)"
                    " values ('r1', :t, 2250000, :b, :a, '{}')"
                ),
                {"t": ticker, "b": Decimal(bid), "a": Decimal(ask)},
            )
        for fid, coid, oid, count, price, fee, taker in (
            ("f1", "c1", "o1", 4, "0.69", "0", False),
            ("f2", "c4", "o4", 5, "0.52", "0.0874", True),
        ):
            conn.execute(
                sa.text(
                    "insert into trading_fills (fill_id, mode, order_id, client_order_id, event_ticker,"
                    " ticker, book_side, count, yes_price, fee, is_taker, filled_at)"
                    " values (:f, 'demo', :o, :c, :e, 'T', 'bid', :n, :p, :fee, :tk, now())"
                ),
                {
                    "f": fid,
                    "o": oid,
                    "c": coid,
                    "e": EVENT,
                    "n": count,
                    "p": Decimal(price),
                    "fee": Decimal(fee),
                    "tk": taker,
                },
            )


def _replay(execution: str, pnl: float) -> dict:
    return {
        "run": {"start": "2024-12-30", "end": "2025-12-22", "weeks": 52, "policy": "blend"},
        "weeks": [],
        "summary": {
            "pnl": pnl,
            "pnl_ci90": [pnl - 500, pnl + 500],
            "cents_per_contract": 5.66 if execution == "taker" else 13.06,
            "execution": execution,
            "fill_rate": None if execution == "taker" else 0.39,
            "adverse_selection": None if execution == "taker" else -0.0397,
            "fees": 186.31 if execution == "taker" else 0.0,
            "by_day": {},
        },
        "equity": [],
    }


def test_resting_orders_fills_by_role_maker_vs_taker_and_the_record(warehouse_engine, tmp_path, monkeypatch):
    _seed(warehouse_engine)
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path))
    from tsa_bot.core.config import get_settings

    get_settings.cache_clear()
    try:
        save_latest(_replay("taker", 1136.40))
        save_latest(_replay("maker", 1347.42))
        latest = tmp_path / "replay" / "latest.json"
        assert json.loads(latest.read_text())["summary"]["execution"] == "maker"
        client = TestClient(create_app(engine_factory=lambda: warehouse_engine, replay_file=lambda: latest))
        resting = client.get("/api/resting").json()["orders"]
        records = client.get("/api/records").json()
        html = client.get("/").text
    finally:
        get_settings.cache_clear()

    by_ticker = {o["ticker"]: o for o in resting}
    assert set(by_ticker) == {f"{EVENT}-A2.25", f"{EVENT}-A2.35", HOSTILE}  # the executed one is not resting
    yes, no = by_ticker[f"{EVENT}-A2.25"], by_ticker[f"{EVENT}-A2.35"]
    assert (yes["price"], yes["remaining"], yes["bid"], yes["ask"]) == (0.69, 6, 0.68, 0.72)
    assert (no["price"], no["bid"], no["ask"]) == (0.66, 0.68, 0.72)
    assert 2 * 86400 + 3 * 3600 <= yes["age_s"] < 2 * 86400 + 3 * 3600 + 600
    section = html[html.index('id="resting-orders"') :]
    assert "2 d 3 h" in section
    assert "inside the spread, 1¢ above the bid" in section
    assert "behind the bid by 2¢" in section
    assert "no book recorded" in section
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    # Each fill's role and fee, in the run's fills line.
    assert (
        "2 fills, 9 contracts: as a maker 4 contracts, fees $0.00; as a taker 5 contracts, fees $0.09."
        in html
    )
    # Maker beside taker.
    table = html[html.index('id="maker-vs-taker"') :]
    assert "taker" in table and "maker" in table and "39%" in table and "-3.97¢" in table
    assert "+1,136.40" in table and "+1,347.42" in table and "+0.00" in table
    # The record per known-days count: no settled week in this warehouse, so every count is unclear.
    assert [r["known_days"] for r in records["by_known_days"]] == list(range(7))
    assert {r["verdict"] for r in records["by_known_days"]} == {"unclear"}
    assert records["market_weight_source"] == "default"
    assert 'id="records"' in html and "part size" in html
