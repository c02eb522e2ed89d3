"""The page's maker panels against a real PostgreSQL: resting orders with their age and price against the
book, each fill's role and fee, maker beside taker in the replay panel, and the record ``recorded`` trades
on, per known-days count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

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
    assert {r["market_weight_source"] for r in records["by_known_days"]} == {"default"}
    assert 'id="records"' in html and "part size" in html


def _run(conn: sa.Connection, run_id: str, mode: str) -> None:
    conn.execute(
        sa.text(
            "insert into trading_runs (run_id, mode, event_ticker, api_host, status)"
            " values (:r, :m, :e, '127.0.0.1', 'finished')"
        ),
        {"r": run_id, "m": mode, "e": EVENT},
    )


def _snapshot(
    conn: sa.Connection, run_id: str, ticker: str, bid: str | None, ask: str | None, at: str
) -> None:
    conn.execute(
        sa.text(
            "insert into trading_snapshots (run_id, ticker, strike, yes_bid, yes_ask, book, taken_at)"
            " values (:r, :t, 2250000, :b, :a, '{}', :at)"
        ),
        {"r": run_id, "t": ticker, "b": bid and Decimal(bid), "a": ask and Decimal(ask), "at": at},
    )


def _order(
    conn: sa.Connection, run_id: str, mode: str, coid: str, ticker: str, direction: str, yes_price: str
):
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, mode, client_order_id, order_id, event_ticker, ticker,"
            " direction, book_side, yes_price, count, filled_count, status, liquidity, created_at)"
            " values (:r, :m, :c, :c, :e, :t, :d, :s, :p, 7, 2, 'resting', 'maker',"
            " now() - interval '95 minutes')"
        ),
        {
            "r": run_id,
            "m": mode,
            "c": coid,
            "e": EVENT,
            "t": ticker,
            "d": direction,
            "s": "bid" if direction == "yes" else "ask",
            "p": Decimal(yes_price),
        },
    )


def _client(engine: sa.Engine, replay: Path) -> TestClient:
    return TestClient(create_app(engine_factory=lambda: engine, replay_file=lambda: replay))


def test_a_resting_order_is_read_against_the_latest_book_of_its_own_mode(warehouse_engine, tmp_path):
    """Demo's exchange is not production's: a demo order against a later paper snapshot of the same ticker
    would be read against a book it never was in."""
    ticker = f"{EVENT}-A2.25"
    with warehouse_engine.begin() as conn:
        _run(conn, "demo-1", "demo")
        _run(conn, "paper-1", "paper")
        _snapshot(conn, "demo-1", ticker, "0.60", "0.64", "2026-02-10T14:00:00Z")
        _snapshot(conn, "paper-1", ticker, "0.75", "0.80", "2026-02-11T14:00:00Z")  # later, other exchange
        _order(conn, "demo-1", "demo", "d1", ticker, "yes", "0.60")
        _order(conn, "paper-1", "paper", "p1", ticker, "no", "0.22")  # NO at 0.78 against NO 0.20 / 0.25

    client = _client(warehouse_engine, tmp_path / "none.json")
    by_mode = {o["mode"]: o for o in client.get("/api/resting").json()["orders"]}
    assert (by_mode["demo"]["bid"], by_mode["demo"]["ask"], by_mode["demo"]["from_bid"]) == (0.6, 0.64, 0.0)
    assert (
        by_mode["paper"]["price"] == 0.78
        and by_mode["paper"]["bid"] == 0.2
        and by_mode["paper"]["ask"] == 0.25
    )
    assert by_mode["demo"]["remaining"] == 5
    section = client.get("/").text.split('id="resting-orders"')[1].split("</section>")[0]
    demo_row = section[: section.index("paper")]
    assert "at the bid" in demo_row and "1 h 35 min" in demo_row
    # Bought at 0.78 with the offer at 0.25: the order is far through the offer (a book older than it).
    assert "inside the spread, 58¢ above the bid" in section and "the offer 0.25 has come to it" in section
    assert "2026-02-10 14:00 UTC" in demo_row  # when the book it is read against was taken


def test_no_resting_order_says_so_in_one_line(warehouse_engine, tmp_path):
    with warehouse_engine.begin() as conn:
        _run(conn, "demo-1", "demo")
        _order(conn, "demo-1", "demo", "d1", f"{EVENT}-A2.25", "yes", "0.60")
        conn.execute(sa.text("update trading_orders set status = 'canceled'"))
    html = _client(warehouse_engine, tmp_path / "none.json").get("/").text
    section = html.split('<section id="resting">')[1].split("</section>")[0]
    assert section.count("No resting orders.") == 1 and "<table" not in section


def test_each_fill_is_listed_with_its_role_and_fee_and_the_fees_by_role(warehouse_engine, tmp_path):
    with warehouse_engine.begin() as conn:
        _run(conn, "demo-1", "demo")
        _order(conn, "demo-1", "demo", "d1", HOSTILE, "yes", "0.60")
        fills = (
            ("f1", 3, "0.60", "0.0000", False, "2026-02-10T15:00:00Z"),
            ("f2", 2, "0.60", "0.0150", False, "2026-02-10T15:05:00Z"),
            ("f3", 4, "0.62", "0.0700", True, "2026-02-10T15:10:00Z"),
        )
        for fid, count, price, fee, taker, at in fills:
            conn.execute(
                sa.text(
                    "insert into trading_fills (fill_id, mode, order_id, client_order_id, event_ticker,"
                    " ticker, book_side, count, yes_price, fee, is_taker, filled_at)"
                    " values (:f, 'demo', 'd1', 'd1', :e, :t, 'bid', :n, :p, :fee, :tk, :at)"
                ),
                {
                    "f": fid,
                    "e": EVENT,
                    "t": HOSTILE,
                    "n": count,
                    "p": Decimal(price),
                    "fee": Decimal(fee),
                    "tk": taker,
                    "at": at,
                },
            )
    html = _client(warehouse_engine, tmp_path / "none.json").get("/").text
    table = html.split('id="fills-demo-1"')[1].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 3
    assert "maker" in rows[0] and "0.0000" in rows[0] and "15:00" in rows[0]
    assert "maker" in rows[1] and "0.0150" in rows[1]
    assert "taker" in rows[2] and "0.0700" in rows[2] and "0.62" in rows[2]
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in table
    assert (
        "3 fills, 9 contracts: as a maker 5 contracts, fees $0.02; as a taker 4 contracts, fees $0.07."
        in html
    )


def _weekly(execution: str, pnls: list[float], **run: object) -> dict:
    doc = _replay(execution, sum(pnls))
    doc["weeks"] = [{"event_ticker": f"W{i}", "pnl": p, "trades": 1} for i, p in enumerate(pnls)]
    doc["run"] |= run
    return doc


def _save(path: Path, doc: dict, saved_at: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc | {"saved_at": saved_at}))


def test_maker_beside_taker_reads_a_latest_replay_saved_before_executions_were_kept_apart(tmp_path):
    """A replay kept only as latest.json (before latest-<execution>.json existed, or before the summary said
    its execution: a taker) is still the latest of its execution, unless a newer one of it is kept."""
    from tsa_bot.ui.queries import replay_executions

    latest = tmp_path / "replay" / "latest.json"
    old = _weekly("taker", [10.0] * 12)
    del old["summary"]["execution"], old["summary"]["fill_rate"], old["summary"]["adverse_selection"]
    _save(latest, old, "2026-01-05T10:00:00+00:00")
    _save(latest.with_name("latest-maker.json"), _weekly("maker", [12.0] * 12), "2026-01-04T10:00:00+00:00")
    found = replay_executions(latest)
    assert set(found) == {"taker", "maker"} and found["taker"]["summary"]["pnl"] == 120.0
    # A newer taker kept apart wins over the older latest.json.
    _save(latest.with_name("latest-taker.json"), _weekly("taker", [1.0] * 12), "2026-01-06T10:00:00+00:00")
    assert replay_executions(latest)["taker"]["summary"]["pnl"] == 12.0


def test_maker_minus_taker_week_by_week_with_its_interval_and_a_warning_when_not_alike(
    warehouse_engine, tmp_path
):
    latest = tmp_path / "replay" / "latest.json"
    taker = [5.0, -3.0, 8.0, 2.0, -1.0, 4.0, 6.0, -2.0, 3.0, 7.0, 1.0, 0.0]
    maker = [p + 2.0 for p in taker]  # two dollars better every week: the interval is exactly 24 .. 24
    _save(latest.with_name("latest-taker.json"), _weekly("taker", taker), "2026-01-05T10:00:00+00:00")
    _save(latest.with_name("latest-maker.json"), _weekly("maker", maker), "2026-01-05T11:00:00+00:00")
    html = _client(warehouse_engine, latest).get("/").text
    part = html.split('id="maker-vs-taker"')[1].split("</div>")[0]
    assert "maker − taker, week by week" in part and "+24.00" in part
    assert "lies above 0: evidence it beats taker" in part
    assert "not alike" not in part

    _save(
        latest.with_name("latest-maker.json"),
        _weekly("maker", maker, policy="kelly"),
        "2026-01-05T12:00:00+00:00",
    )
    part = _client(warehouse_engine, latest).get("/").text.split('id="maker-vs-taker"')[1].split("</div>")[0]
    assert "not alike" in part and "policy blend vs kelly" in part
    assert "maker − taker, week by week" not in part


def test_one_execution_replayed_says_how_to_get_the_other(warehouse_engine, tmp_path):
    latest = tmp_path / "replay" / "latest.json"
    _save(latest.with_name("latest-taker.json"), _weekly("taker", [1.0] * 12), "2026-01-05T10:00:00+00:00")
    part = _client(warehouse_engine, latest).get("/").text.split('id="maker-vs-taker"')[1].split("</div>")[0]
    assert "No maker replay yet" in part and "--execution maker" in part


def test_replay_documents_odd_or_hostile_are_read_safely(warehouse_engine, tmp_path):
    from tsa_bot.ui.queries import replay_executions

    latest = tmp_path / "replay" / "latest.json"
    taker = _weekly("taker", [1.0] * 12, policy="<i>kelly</i>")
    taker["weeks"][0]["pnl"] = None  # not a number: left out, not a crash
    _save(latest.with_name("latest-taker.json"), taker, "2026-01-05T10:00:00+00:00")
    _save(latest.with_name("latest-maker.json"), _weekly("maker", [1.0] * 12), "2026-01-05T11:00:00+00:00")
    html = _client(warehouse_engine, latest).get("/").text
    part = html.split('id="maker-vs-taker"')[1].split("</div>")[0]
    assert "<i>kelly</i>" not in html and "policy &lt;i&gt;kelly&lt;/i&gt; vs blend" in part
    assert len(replay_executions(latest)["taker"]["weeks"]) == 11

    _save(
        latest.with_name("latest-maker.json"), {"summary": {}, "run": "x", "weeks": 3}, "2026-01-05T12:00:00"
    )
    latest.write_text("{not json")
    assert set(replay_executions(latest)) == {"taker"}
    assert "No maker replay yet" in _client(warehouse_engine, latest).get("/").text
