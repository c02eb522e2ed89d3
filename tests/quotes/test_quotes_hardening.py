"""Issue 18, the quote interchange tried the adversarial way: every bad file is one line naming the line and
field, and changes nothing; a refused re-import leaves Kalshi's downloaded values; --series is no pattern;
a last candle published late is still fetched; a warehouse row naming no week does not crash the replay."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from quotes_fakes import FakeKalshi, candle_json

from tsa_bot.core.errors import TsaBotError
from tsa_bot.kalshi.models import Candlestick
from tsa_bot.local.cli import main
from tsa_bot.quotes import store
from tsa_bot.quotes.download import download_history
from tsa_bot.quotes.interchange import (
    FULL_HEADER,
    HEADER,
    MAX_FILE_BYTES,
    QuoteFormatError,
    QuoteRow,
    iter_quotes,
    read_quotes,
    read_quotes_file,
)
from tsa_bot.quotes.sanity import check_ladders

HEADER_LINE = ",".join(HEADER)
E1 = "KXTSAW-26FEB15"
GOOD = f"{E1},{E1}-A2.30,2300000,2026-02-09T15:00:00Z,0.47,0.49,,1,1,"


def _read(text: str) -> list[QuoteRow]:
    return read_quotes(io.StringIO(text), "q.csv")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # Dates at the limits: year 1 and 9999 (today: OverflowError, exit 1).
        (
            f"{E1},{E1}-A2.30,2300000,0001-01-01T00:00:00+01:00,0.47,0.49,,1,1,",
            "q.csv line 3, end_ts: '0001-01-01T00:00:00+01:00' is not between 2000 and 2099",
        ),
        (
            f"{E1},{E1}-A2.30,2300000,9999-12-31T23:00:00-05:00,0.47,0.49,,1,1,",
            "q.csv line 3, end_ts: '9999-12-31T23:00:00-05:00' is not between 2000 and 2099",
        ),
        (
            f"{E1},{E1}-A2.30,2300000,0001-01-01T00:00:00+00:00,0.47,0.49,,1,1,",
            "q.csv line 3, end_ts: '0001-01-01T00:00:00+00:00' is not between 2000 and 2099",
        ),
        # 31 digits: refused like 7 decimals (today: silently rounded to 0.1 and accepted).
        (
            f"{E1},{E1}-A2.30,2300000,2026-02-10T15:00:00Z,0.1000000000000000000000000000001,0.49,,1,1,",
            "q.csv line 3, yes_bid: 0.1000000000000000000000000000001 has more than 6 decimals",
        ),
        (
            f"{E1},{E1}-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1.0000000000000000000000000000001,1,",
            "q.csv line 3, volume: 1.0000000000000000000000000000001 has more than 2 decimals",
        ),
        # A crossed book.
        (
            f"{E1},{E1}-A2.30,2300000,2026-02-10T15:00:00Z,0.90,0.10,,1,1,",
            "q.csv line 3, yes_bid: 0.90 is above yes_ask 0.10 (a crossed book)",
        ),
        # Two markets of one event at one strike.
        (
            f"{E1},{E1}-A2.35,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            f"q.csv line 3, floor_strike: {E1}-A2.35 has strike 2300000, as {E1}-A2.30 on line 2 has",
        ),
        # Tickers holding a newline, a NUL, a space or a non-ASCII letter.
        (
            f'{E1},"{E1}-A2.30\nX",2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,',
            f"q.csv line 3, ticker: '{E1}-A2.30\\nX' holds a character a Kalshi ticker cannot",
        ),
        (
            f"{E1},{E1}-A2.3\x000,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            f"q.csv line 3, ticker: '{E1}-A2.3\\x000' holds a character a Kalshi ticker cannot",
        ),
        (
            f"{E1},{E1}-A 2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            f"q.csv line 3, ticker: '{E1}-A 2.30' holds a character a Kalshi ticker cannot",
        ),
        (
            "KXTSAW-26FÉB15,KXTSAW-26FÉB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, event_ticker: 'KXTSAW-26FÉB15' holds a character a Kalshi ticker cannot",
        ),
        # An event ticker that names no date.
        (
            "KXTSAW-ZZZ,KXTSAW-ZZZ-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, event_ticker: 'KXTSAW-ZZZ' names no date (SERIES-YYMMMDD, such as KXTSAW-26FEB15)",
        ),
        (
            "KXTSAW-26FEB30,KXTSAW-26FEB30-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, event_ticker: 'KXTSAW-26FEB30' names no date",
        ),
        # A NUL byte in a price is shown escaped, never raw.
        (
            f"{E1},{E1}-A2.30,2300000,2026-02-10T15:00:00Z,0.4\x007,0.49,,1,1,",
            "q.csv line 3, yes_bid: '0.4\\x007' is not a number",
        ),
    ],
)
def test_edge_cases_are_refused_with_one_line_naming_line_and_field(line, message):
    with pytest.raises(QuoteFormatError) as err:
        _read(f"{HEADER_LINE}\n{GOOD}\n{line}\n")
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value) and "\x00" not in str(err.value)


def test_a_locked_book_and_the_limits_themselves_are_accepted():
    text = (
        f"{HEADER_LINE}\n"
        f"{E1},{E1}-A2.30,2300000,2000-01-01T00:00:00+00:00,0.50,0.50,,99999999999999.99,0,\n"
        f"{E1},{E1}-A2.30,2300000,2099-12-31T23:59:59+00:00,0.000001,1.000000,0.100000000,0,0,\n"
    )
    rows = _read(text)
    assert [r.yes_bid for r in rows] == [Decimal("0.50"), Decimal("0.000001")]


def test_reading_streams_the_file_row_by_row():
    """The reader yields each checked row as it reads: it never holds the whole file."""

    def lines() -> Iterator[str]:
        yield HEADER_LINE + "\n"
        yield GOOD + "\n"
        raise AssertionError("read past the first row before it was asked for")

    rows = iter_quotes(lines(), "q.csv")
    line, first = next(rows)
    assert line == 2 and first.ticker == f"{E1}-A2.30"


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path):
    big = tmp_path / "big.csv"
    with big.open("wb") as f:  # sparse: no disk used
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(QuoteFormatError, match=r"big\.csv is larger than the 64 MiB a quote file may be"):
        read_quotes_file(big)
    # A stream without a size (a pipe) is cut at the cap as it is read.
    small = tmp_path / "small.csv"
    small.write_text(HEADER_LINE + "\n" + (GOOD + "\n"))
    with pytest.raises(QuoteFormatError, match="larger than"):
        rows = [GOOD.replace("T15:", f"T{h:02d}:") for h in range(10)]
        list(iter_quotes(io.StringIO("\n".join([HEADER_LINE, *rows]) + "\n"), "q.csv", max_chars=400))
    assert len(read_quotes_file(small)) == 1


# ---- the CLI on a real warehouse --------------------------------------------------------------------


def _history(*args: str) -> int:
    return main(["kalshi", "history", *args])


def _everything(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return [
            conn.execute(sa.text(f"select * from {t} order by 1, 2")).all()
            for t in ("quote_events", "quote_markets", "quote_candles", "quote_downloads")
        ]


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (f"{E1},{E1}-A2.30,2300000,0001-01-01T00:00:00+01:00,0.47,0.49,,1,1,", "end_ts"),
        (f"{E1},{E1}-A2.30,2300000,9999-12-31T23:00:00-05:00,0.47,0.49,,1,1,", "end_ts"),
        ("KXTSAW-ZZZ,KXTSAW-ZZZ-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,", "names no date"),
        (f'{E1},"{E1}-A2.30\n",2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,', "Kalshi ticker cannot"),
        (f"{E1},{E1}-A2.35,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,", "as KXTSAW-26FEB15-A2.30"),
        (f"{E1},{E1}-A2.35,2350000,2026-02-10T15:00:00Z,0.90,0.10,,1,1,", "crossed book"),
    ],
)
def test_the_import_refuses_them_with_one_line_and_changes_nothing(
    tsa_env, warehouse_engine, tmp_path, capsys, row, says
):
    path = tmp_path / "q.csv"
    path.write_text(f"{HEADER_LINE}\n{GOOD}\n{row}\n")
    before = _everything(warehouse_engine)
    assert _history("--import", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("tsabot: error: q.csv line 3") and says in err and err.count("\n") == 1, err
    assert _everything(warehouse_engine) == before


def test_a_new_market_at_a_strike_the_warehouse_holds_is_refused(tsa_env, warehouse_engine, tmp_path, capsys):
    first = tmp_path / "first.csv"
    first.write_text(f"{HEADER_LINE}\n{GOOD}\n")
    assert _history("--import", str(first)) == 0
    before = _everything(warehouse_engine)
    second = tmp_path / "second.csv"
    second.write_text(f"{HEADER_LINE}\n{E1},{E1}-B2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,\n")
    assert _history("--import", str(second)) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tsabot: error: second.csv line 2, floor_strike: {E1}-B2.30 has strike 2300000, as {E1}-A2.30 "
        "has in the warehouse\n"
    )
    assert _everything(warehouse_engine) == before


def test_an_import_over_the_size_cap_is_one_line(tsa_env, warehouse_engine, tmp_path, capsys):
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # the 200 MB, sparse
    before = _everything(warehouse_engine)
    assert _history("--import", str(big)) == 2
    err = capsys.readouterr().err
    assert err.startswith("tsabot: error: big.csv is larger than the 64 MiB") and err.count("\n") == 1
    assert _everything(warehouse_engine) == before


def _market_with_a_candle(conn: sa.Connection, event: str, ticker: str, source: str) -> datetime:
    """A settled (yes) market at 2.30 M and one candle of it, as a download (or an old import) left them;
    the candle's end."""
    conn.execute(
        sa.text("insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"), {"e": event}
    )
    conn.execute(
        sa.text(
            "insert into quote_markets (ticker, event_ticker, floor_strike, result, source)"
            " values (:t, :e, 2300000, 'yes', :s)"
        ),
        {"t": ticker, "e": event, "s": source},
    )
    end = datetime(2026, 2, 10, 5, tzinfo=UTC)
    store.save_candles(conn, ticker, 60, [Candlestick.from_json(candle_json(end, "0.5000", archived=False))])
    return end


def _downloaded(engine: sa.Engine, ticker: str) -> None:
    with engine.begin() as conn:
        end = _market_with_a_candle(conn, E1, ticker, "kalshi")
        store.record_progress(conn, ticker, 60, end, complete=True)


def test_a_reimport_cannot_overwrite_kalshis_downloaded_values(tsa_env, warehouse_engine, tmp_path, capsys):
    ticker = f"{E1}-A2.30"
    _downloaded(warehouse_engine, ticker)
    exported = tmp_path / "out.csv"
    assert _history("--export", str(exported)) == 0
    assert (
        exported.read_text().splitlines()[1]
        == f"{E1},{ticker},2300000,2026-02-10T05:00:00+00:00,0.50,0.55,,1,2,yes,,"
    )
    # The same values import as unchanged: the candle stays Kalshi's.
    assert _history("--import", str(exported)) == 0
    assert "0 new, 0 changed, 1 unchanged" in capsys.readouterr().out
    before = _everything(warehouse_engine)
    exported.write_text(exported.read_text().replace(",0.50,0.55,", ",0.10,0.55,"))
    assert _history("--import", str(exported)) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tsabot: error: out.csv line 2, yes_bid: {ticker} at 2026-02-10T05:00:00+00:00 has 0.10 here but "
        "0.50 as downloaded from Kalshi; nothing imported (an import never overwrites a downloaded candle)\n"
    )
    assert _everything(warehouse_engine) == before


def test_series_is_matched_exactly_not_as_a_like_pattern(tsa_env, warehouse_engine, tmp_path, capsys):
    path = tmp_path / "q.csv"
    path.write_text(f"{HEADER_LINE}\n{GOOD}\n")
    assert _history("--import", str(path)) == 0
    capsys.readouterr()
    for pattern in ("KXTSA_", "%", "KX%", "_XTSAW"):
        assert _history("--export", "-", "--series", pattern) == 0
        assert capsys.readouterr().out == ",".join(FULL_HEADER) + "\n", pattern
    assert _history("--export", "-", "--series", "KXTSAW") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [GOOD.replace("Z,", "+00:00,") + ",,"]
    with warehouse_engine.connect() as conn:
        assert store.settled_events(conn, "KXTSA_") == []


def test_a_last_candle_published_late_is_fetched_by_the_next_download(warehouse_engine):
    kalshi = FakeKalshi(cutoff=datetime(2026, 1, 1, tzinfo=UTC))
    opens, closes = datetime(2026, 2, 15, 5, tzinfo=UTC), datetime(2026, 2, 16, 4, 59, tzinfo=UTC)
    (ticker, _) = kalshi.add_event(E1, [2_300_000, 2_350_000], opens, closes, archived=False)
    last_end = datetime(2026, 2, 16, 5, tzinfo=UTC)  # the candle holding the close
    late = candle_json(last_end, "0.9900", archived=False)
    soon_after = last_end + timedelta(minutes=20)

    def download(until: datetime):
        with kalshi.client() as client:
            return download_history(
                client, warehouse_engine, start=date(2026, 2, 15), end=date(2026, 2, 15), until=until
            )

    download(soon_after)  # Kalshi has not published the last candle yet
    kalshi.candles[ticker].append(late)
    second = download(soon_after + timedelta(hours=1))
    assert second.candles.candles_new == 1
    with warehouse_engine.connect() as conn:
        stored = conn.execute(
            sa.text("select yes_bid_close from quote_candles where ticker = :t and end_ts = :e"),
            {"t": ticker, "e": last_end},
        ).scalar_one_or_none()
        complete = dict(conn.execute(sa.text("select ticker, complete from quote_downloads")).all())
    assert stored == Decimal("0.99")
    assert complete[ticker] is True
    # The other market's last candle never came: it is done once a day has passed since its end.
    other = f"{E1}-A2.35"
    assert complete[other] is False
    download(last_end + timedelta(days=1, minutes=1))
    with warehouse_engine.connect() as conn:
        assert conn.execute(
            sa.text("select complete from quote_downloads where ticker = :t"), {"t": other}
        ).scalar_one()


def test_a_warehouse_event_naming_no_week_does_not_crash_the_default_replay_range(
    tsa_env, warehouse_engine, caplog
):
    from tsa_bot.replay.tasks import default_range

    with warehouse_engine.begin() as conn:
        for event, ticker in (("KXTSAW-ZZZ", "KXTSAW-ZZZ-A2.30"), (E1, f"{E1}-A2.30")):
            _market_with_a_candle(conn, event, ticker, "import")
    with caplog.at_level(logging.WARNING):
        _, end = default_range()
    assert end == date(2026, 2, 9)
    warned = [r.getMessage() for r in caplog.records if "KXTSAW-ZZZ" in r.getMessage()]
    assert len(warned) == 1 and "names no week" in warned[0]


# ---- nonsense the replay refuses ---------------------------------------------------------------------


def _ladder(strikes: list[int], bids: list[str], results: list[str]) -> list[QuoteRow]:
    at = datetime(2026, 2, 10, 15, tzinfo=UTC)
    return [
        QuoteRow(
            E1,
            f"{E1}-M{n}",
            strike,
            at,
            Decimal(bid),
            Decimal(bid) + Decimal("0.02"),
            None,
            None,
            None,
            result,
        )
        for n, (strike, bid, result) in enumerate(zip(strikes, bids, results, strict=True))
    ]


def test_a_sensible_ladder_passes():
    check_ladders(_ladder([2_300_000, 2_350_000, 2_400_000], ["0.80", "0.50", "0.10"], ["yes", "yes", "no"]))


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (
            _ladder([2_300_000, 2_350_000, 2_400_000], ["0.10", "0.50", "0.80"], ["", "", ""]),
            f"{E1}: its YES prices rise with the strike (reversed strikes?)",
        ),
        (
            _ladder([2_300_000, 2_300_000, 2_300_000], ["0.80", "0.50", "0.10"], ["", "", ""]),
            f"{E1}: {E1}-M1 and {E1}-M0 have the same strike 2300000",
        ),
        (
            _ladder([2_300_000, 2_350_000, 2_400_000], ["0.80", "0.50", "0.10"], ["no", "yes", "no"]),
            f"{E1}: {E1}-M1 (strike 2350000) settled yes but {E1}-M0 (strike 2300000) no",
        ),
    ],
)
def test_nonsense_ladders_are_refused_with_one_line(rows, says):
    with pytest.raises(TsaBotError) as err:
        check_ladders(rows)
    assert str(err.value).startswith(says) and "\n" not in str(err.value), str(err.value)
