"""Quote history in a real PostgreSQL: import/export through the CLI, idempotent upserts, refusals that
change nothing, and the trading runs' snapshots in the history view."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tsa_bot.kalshi.models import Candlestick
from tsa_bot.local.cli import main
from tsa_bot.quotes import store
from tsa_bot.quotes.interchange import FULL_HEADER, HEADER

HEADER_LINE = ",".join(FULL_HEADER)
SHORT_HEADER_LINE = ",".join(HEADER)  # without the optional traded range
E1, E2 = "KXTSAW-26FEB15", "KXTSAW-26FEB22"
QUOTES = (
    HEADER_LINE + "\n"
    f"{E1},{E1}-A2.30,2300000,2026-02-10T05:00:00+00:00,0.47,0.49,0.48,120,35,yes,0.46,0.49\n"
    f"{E1},{E1}-A2.35,2350000,2026-02-10T05:00:00+00:00,0.2725,0.31,,0,12.5,no,,\n"
    f"{E1},{E1}-A2.30,2300000,2026-02-11T05:00:00+00:00,0.50,0.53,,,,yes,,\n"
    f"{E1},{E1}-A2.35,2350000,2026-02-11T05:00:00+00:00,,1.00,0.01,3,12.5,no,0.01,0.02\n"
    f"{E2},{E2}-A2.30,2300000,2026-02-17T05:00:00+00:00,0.61,0.64,0.62,7,7,,0.61,0.62\n"
)
TABLES = ("quote_events", "quote_markets", "quote_candles")


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one() for t in TABLES}


def _dump(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("select * from quote_candles order by 1, 2, 3"))]


def _history(*args: str) -> int:
    return main(["kalshi", "history", *args])


@pytest.fixture
def quotes_csv(tmp_path: Path) -> Path:
    path = tmp_path / "quotes.csv"
    path.write_text(QUOTES)
    return path


def test_import_then_export_is_byte_identical_and_a_second_import_adds_nothing(
    tsa_env, warehouse_engine, quotes_csv, tmp_path, capsys
):
    assert _history("--import", str(quotes_csv), "--period", "1440") == 0
    assert "5 rows as 1440-minute candles: 5 new, 0 changed, 0 unchanged" in capsys.readouterr().out
    after_first = (_counts(warehouse_engine), _dump(warehouse_engine))
    assert after_first[0] == {"quote_events": 2, "quote_markets": 3, "quote_candles": 5}

    exported = tmp_path / "out.csv"
    assert _history("--export", str(exported), "--period", "1440") == 0
    assert exported.read_bytes() == quotes_csv.read_bytes()

    assert _history("--import", str(quotes_csv), "--period", "1440") == 0
    assert "0 new, 0 changed, 5 unchanged" in capsys.readouterr().out
    assert (_counts(warehouse_engine), _dump(warehouse_engine)) == after_first

    # The other period holds nothing; a date and series filter narrows the rows.
    assert _history("--export", "-", "--period", "60") == 0
    assert capsys.readouterr().out == HEADER_LINE + "\n"
    assert _history("--export", "-", "--period", "1440", "--start", "2026-02-16", "--end", "2026-02-20") == 0
    assert capsys.readouterr().out.splitlines()[1:] == QUOTES.splitlines()[5:]


def test_a_file_without_the_traded_range_imports_and_never_erases_one(
    tsa_env, warehouse_engine, quotes_csv, tmp_path, capsys
):
    """The two trailing columns are optional: a ten-column file imports (no range), exports with the two
    columns empty, and imported over candles that have a range leaves it alone (it does not know it)."""
    short = tmp_path / "short.csv"
    short.write_text(
        "\n".join([SHORT_HEADER_LINE, *(",".join(r.split(",")[:10]) for r in QUOTES.splitlines()[1:])]) + "\n"
    )
    assert _history("--import", str(short), "--period", "1440") == 0
    exported = tmp_path / "out.csv"
    assert _history("--export", str(exported), "--period", "1440") == 0
    assert exported.read_text().splitlines() == [
        HEADER_LINE,
        *(",".join(r.split(",")[:10]) + ",," for r in QUOTES.splitlines()[1:]),
    ]
    capsys.readouterr()
    # The full file adds the ranges; the short one again changes nothing.
    assert _history("--import", str(quotes_csv), "--period", "1440") == 0
    assert "0 new, 3 changed, 2 unchanged" in capsys.readouterr().out
    assert _history("--import", str(short), "--period", "1440") == 0
    assert "0 new, 0 changed, 5 unchanged" in capsys.readouterr().out
    assert _history("--export", str(exported), "--period", "1440") == 0
    assert exported.read_bytes() == quotes_csv.read_bytes()


def test_a_refused_import_changes_nothing(tsa_env, warehouse_engine, quotes_csv, tmp_path, capsys):
    assert _history("--import", str(quotes_csv), "--period", "1440") == 0
    before = (_counts(warehouse_engine), _dump(warehouse_engine))
    capsys.readouterr()

    # New rows first (a new event, a changed quote), then a bad last row.
    good_rows = [
        f"{E2},{E2}-A2.35,2350000,2026-02-17T05:00:00+00:00,0.30,0.33,,1,1,",
        f"{E1},{E1}-A2.30,2300000,2026-02-10T05:00:00+00:00,0.10,0.90,,1,1,yes",
    ]
    bad = tmp_path / "bad.csv"
    bad_row = f"{E2},{E2}-A2.40,2400000,2026-02-17,x,,,,,"
    bad.write_text("\n".join([SHORT_HEADER_LINE, *good_rows, bad_row]) + "\n")
    assert _history("--import", str(bad)) == 2
    err = capsys.readouterr().err
    assert err == "tsabot: error: bad.csv line 4, end_ts: '2026-02-17' has no UTC offset (such as +00:00)\n"

    # Every row parses, but the last market contradicts the warehouse: refused inside the transaction.
    clash = tmp_path / "clash.csv"
    clash.write_text(
        "\n".join(
            [SHORT_HEADER_LINE, *good_rows, f"{E1},{E1}-A2.35,2400000,2026-02-12T05:00:00+00:00,,,,,,no"]
        )
        + "\n"
    )
    assert _history("--import", str(clash), "--period", "1440") == 2
    err = capsys.readouterr().err
    assert err == (
        f"tsabot: error: clash.csv line 4, floor_strike: {E1}-A2.35 has '2400000' here but '2350000' "
        "in the warehouse\n"
    )
    result_clash = tmp_path / "result.csv"
    result_clash.write_text(
        f"{SHORT_HEADER_LINE}\n{E1},{E1}-A2.35,2350000,2026-02-12T05:00:00+00:00,,,,,,yes\n"
    )
    assert _history("--import", str(result_clash), "--period", "1440") == 2
    assert "result.csv line 2, result" in capsys.readouterr().err
    assert (_counts(warehouse_engine), _dump(warehouse_engine)) == before


def test_missing_file_and_bad_arguments_get_one_line(tsa_env, warehouse_engine, tmp_path, capsys):
    assert _history("--import", str(tmp_path / "nope.csv")) == 2
    assert capsys.readouterr().err.startswith("tsabot: error: cannot read ")
    assert _history("--start", "2026-02-01") == 2
    assert capsys.readouterr().err == (
        "tsabot: error: a download needs --start and --end (or use --import/--export)\n"
    )
    assert _history("--start", "2026-02-10", "--end", "2026-02-01") == 2
    assert "is after --end" in capsys.readouterr().err


# Shaped as in the spec (MarketCandlestick and MarketCandlestickHistorical).
LIVE_CANDLE = {
    "end_period_ts": 1770699600,
    "yes_bid": {
        "open_dollars": "0.4500",
        "low_dollars": "0.4400",
        "high_dollars": "0.4800",
        "close_dollars": "0.4700",
    },
    "yes_ask": {
        "open_dollars": "0.4900",
        "low_dollars": "0.4800",
        "high_dollars": "0.5200",
        "close_dollars": "0.4900",
    },
    "price": {
        "open_dollars": "0.4600",
        "low_dollars": "0.4600",
        "high_dollars": "0.4800",
        "close_dollars": "0.4800",
        "mean_dollars": "0.4712",
        "previous_dollars": "0.4500",
    },
    "volume_fp": "120.00",
    "open_interest_fp": "35.00",
}
HISTORICAL_CANDLE = {
    "end_period_ts": 1770786000,
    "yes_bid": {"open": "0.4700", "low": "0.4700", "high": "0.5000", "close": "0.5000"},
    "yes_ask": {"open": "0.4900", "low": "0.4900", "high": "0.5300", "close": "0.5300"},
    "price": {"open": None, "low": None, "high": None, "close": None, "mean": None, "previous": "0.4800"},
    "volume": "0.00",
    "open_interest": "35.00",
}


def test_candles_of_both_shapes_parse_alike():
    live, archived = Candlestick.from_json(LIVE_CANDLE), Candlestick.from_json(HISTORICAL_CANDLE)
    assert live.end_period_ts == datetime(2026, 2, 10, 5, tzinfo=UTC)
    assert (live.yes_bid.close, live.yes_ask.high, live.price.close) == (
        Decimal("0.47"),
        Decimal("0.52"),
        Decimal("0.48"),
    )
    assert (live.price_mean, live.volume, live.open_interest) == (Decimal("0.4712"), 120, 35)
    assert archived.yes_ask.close == Decimal("0.53") and archived.price.close is None
    assert (archived.price_previous, archived.volume) == (Decimal("0.48"), 0)


def _market_row(conn: sa.Connection, ticker: str, strike: int, result: str = "") -> None:
    conn.execute(
        sa.text(
            "insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"
            " on conflict do nothing"
        ),
        {"e": ticker.rsplit("-", 1)[0]},
    )
    conn.execute(
        sa.text(
            "insert into quote_markets (ticker, event_ticker, floor_strike, result, source)"
            " values (:t, :e, :k, :r, 'kalshi')"
        ),
        {"t": ticker, "e": ticker.rsplit("-", 1)[0], "k": strike, "r": result},
    )


def test_downloaded_candles_upsert_idempotently_and_an_import_keeps_their_ohlc(
    tsa_env, warehouse_engine, tmp_path, capsys
):
    ticker = f"{E1}-A2.30"
    candles = [Candlestick.from_json(LIVE_CANDLE), Candlestick.from_json(HISTORICAL_CANDLE)]
    with warehouse_engine.begin() as conn:
        _market_row(conn, ticker, 2_300_000, "yes")
        assert store.save_candles(conn, ticker, 60, candles) == store.Written(2, 0)
    with warehouse_engine.begin() as conn:
        assert store.save_candles(conn, ticker, 60, candles) == store.Written(0, 0)
    exported = tmp_path / "out.csv"
    assert _history("--export", str(exported)) == 0
    assert exported.read_text().splitlines()[1:] == [
        f"{E1},{ticker},2300000,2026-02-10T05:00:00+00:00,0.47,0.49,0.48,120,35,yes,0.46,0.48",
        f"{E1},{ticker},2300000,2026-02-11T05:00:00+00:00,0.50,0.53,,0,35,yes,,",
    ]
    # Imported as exported, the candles are unchanged and stay Kalshi's, OHLC and all.
    assert _history("--import", str(exported)) == 0
    assert "0 new, 0 changed, 2 unchanged" in capsys.readouterr().out
    # Other prices for a downloaded candle are refused (issue 18: they overwrote Kalshi's, and the next
    # download, seeing the market complete, never restored them).
    changed = exported.read_text().replace(",0.50,0.53,", ",0.51,0.53,")
    exported.write_text(changed)
    assert _history("--import", str(exported)) == 2
    assert "has 0.51 here but 0.50 as downloaded from Kalshi; nothing imported" in capsys.readouterr().err
    with warehouse_engine.connect() as conn:
        row = conn.execute(
            sa.text("select yes_bid_open, yes_bid_close, source from quote_candles order by end_ts desc")
        ).first()
    assert (row.yes_bid_open, row.yes_bid_close, row.source) == (Decimal("0.47"), Decimal("0.50"), "kalshi")


def _snapshot(conn: sa.Connection, run_id: str, ticker: str, strike: int, at: datetime, bid, ask) -> None:
    conn.execute(
        sa.text(
            "insert into trading_runs (run_id, mode, event_ticker, api_host) values (:r, 'paper', :e, 'x')"
            " on conflict do nothing"
        ),
        {"r": run_id, "e": ticker.rsplit("-", 1)[0]},
    )
    conn.execute(
        sa.text(
            "insert into trading_snapshots (run_id, ticker, strike, yes_bid, yes_ask, book, taken_at)"
            " values (:r, :t, :k, :b, :a, '{}', :at)"
        ),
        {"r": run_id, "t": ticker, "k": strike, "b": bid, "a": ask, "at": at},
    )


def test_the_live_runs_snapshots_count_as_history(tsa_env, warehouse_engine, tmp_path):
    t230, t235 = f"{E1}-A2.30", f"{E1}-A2.35"
    at = datetime(2026, 2, 10, 14, 31, 5, 250000, tzinfo=UTC)
    on_candle = datetime(2026, 2, 10, 5, tzinfo=UTC)
    with warehouse_engine.begin() as conn:
        _market_row(conn, t230, 2_300_000, "yes")
        store.save_candles(conn, t230, 60, [Candlestick.from_json(LIVE_CANDLE)])
        _snapshot(conn, "run-1", t230, 2_300_000, at, Decimal("0.45"), Decimal("0.48"))
        _snapshot(conn, "run-1", t235, 2_350_000, at, None, Decimal("0.33"))
        # A backfill run reusing run-1's snapshot: the same moment, one row.
        _snapshot(conn, "backfill-1", t230, 2_300_000, at, Decimal("0.45"), Decimal("0.48"))
        # A snapshot at a candle's end: the candle is kept.
        _snapshot(conn, "run-0", t230, 2_300_000, on_candle, Decimal("0.01"), Decimal("0.99"))
    exported = tmp_path / "out.csv"
    assert _history("--export", str(exported)) == 0
    assert exported.read_text().splitlines()[1:] == [
        f"{E1},{t230},2300000,2026-02-10T05:00:00+00:00,0.47,0.49,0.48,120,35,yes,0.46,0.48",
        f"{E1},{t230},2300000,2026-02-10T14:31:05.250000+00:00,0.45,0.48,,,,yes,,",
        f"{E1},{t235},2350000,2026-02-10T14:31:05.250000+00:00,,0.33,,,,,,",
    ]
    # The exported snapshots import as candles, and export again unchanged.
    assert _history("--import", str(exported)) == 0
    again = tmp_path / "again.csv"
    assert _history("--export", str(again)) == 0
    assert again.read_bytes() == exported.read_bytes()
