"""The downloader's choices, on real PostgreSQL with the real client over a scripted transport: which
endpoint serves a market, resuming after an interruption, and running twice adding nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from quotes_fakes import FakeKalshi

from tsa_bot.kalshi.errors import KalshiServerError
from tsa_bot.quotes.download import download_history

OLD, NEW = "KXTSAW-26JAN25", "KXTSAW-26FEB15"
STRIKES = [2_300_000, 2_350_000]
LATER = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def kalshi() -> FakeKalshi:
    fake = FakeKalshi(cutoff=datetime(2026, 2, 1, tzinfo=UTC))
    # One day of trading each, so each market has 23 hourly candles.
    fake.add_event(
        OLD,
        STRIKES,
        datetime(2026, 1, 25, 5, tzinfo=UTC),
        datetime(2026, 1, 26, 4, 59, tzinfo=UTC),
        archived=True,
        result="yes",
    )
    fake.add_event(
        NEW,
        STRIKES,
        datetime(2026, 2, 15, 5, tzinfo=UTC),
        datetime(2026, 2, 16, 4, 59, tzinfo=UTC),
        archived=False,
    )
    return fake


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
            for t in ("quote_events", "quote_markets", "quote_candles", "quote_downloads")
        }


def _download(kalshi: FakeKalshi, engine: sa.Engine, start=date(2026, 1, 20), until=LATER):
    with kalshi.client() as client:
        return download_history(client, engine, start=start, end=date(2026, 2, 15), period=60, until=until)


def test_archived_markets_come_from_historical_and_a_second_run_adds_nothing(kalshi, warehouse_engine):
    first = _download(kalshi, warehouse_engine)
    assert (first.markets.markets, first.markets.archived_markets, first.markets.markets_new) == (4, 2, 4)
    assert (first.candles.requests, first.candles.candles_new) == (4, 92)
    assert kalshi.paths("/historical/markets/") == [
        f"/historical/markets/{OLD}-A{s}/candlesticks" for s in ("2.30", "2.35")
    ]
    assert kalshi.paths("/series/KXTSAW/markets/") == [
        f"/series/KXTSAW/markets/{NEW}-A{s}/candlesticks" for s in ("2.30", "2.35")
    ]
    with warehouse_engine.connect() as conn:
        markets = conn.execute(
            sa.text(
                "select ticker, archived, result, floor_strike, status from quote_markets"
                " order by close_time, ticker"
            )
        ).all()
        titles = conn.execute(sa.text("select title from quote_events order by event_ticker")).scalars().all()
    assert [tuple(m) for m in markets] == [
        (f"{OLD}-A2.30", True, "yes", 2_300_000, "finalized"),
        (f"{OLD}-A2.35", True, "yes", 2_350_000, "finalized"),
        (f"{NEW}-A2.30", False, "", 2_300_000, "active"),
        (f"{NEW}-A2.35", False, "", 2_350_000, "active"),
    ]
    assert titles == [f"TSA {NEW}", f"TSA {OLD}"]
    before = _counts(warehouse_engine)

    kalshi.requests.clear()
    second = _download(kalshi, warehouse_engine)
    assert (second.markets.markets_new, second.markets.markets_changed, second.markets.events_new) == (
        0,
        0,
        0,
    )
    assert (second.candles.requests, second.candles.markets_complete_before) == (0, 4)
    assert kalshi.paths("/series/") == kalshi.paths("/historical/markets/") == []
    assert _counts(warehouse_engine) == before


def test_a_range_after_the_cutoff_does_not_list_the_archive(kalshi, warehouse_engine):
    summary = _download(kalshi, warehouse_engine, start=date(2026, 2, 2))
    assert summary.markets.markets == 2 and summary.markets.archived_markets == 0
    assert "/historical/markets" not in kalshi.paths()


def test_an_interrupted_download_resumes_with_the_markets_it_lacks(kalshi, warehouse_engine):
    kalshi.failing.add(f"{NEW}-A2.35")
    with pytest.raises(KalshiServerError):
        _download(kalshi, warehouse_engine)
    # The three markets before the failure are stored, candles and progress together.
    with warehouse_engine.connect() as conn:
        stored = conn.execute(
            sa.text("select ticker, count(*) from quote_candles group by ticker order by ticker")
        ).all()
    assert [tuple(r) for r in stored] == [(f"{NEW}-A2.30", 23), (f"{OLD}-A2.30", 23), (f"{OLD}-A2.35", 23)]

    kalshi.failing.clear()
    kalshi.requests.clear()
    resumed = _download(kalshi, warehouse_engine)
    assert kalshi.paths("/series/") + kalshi.paths("/historical/markets/") == [
        f"/series/KXTSAW/markets/{NEW}-A2.35/candlesticks"
    ]
    assert (resumed.candles.candles_new, resumed.candles.markets_complete_before) == (23, 3)
    assert _counts(warehouse_engine)["quote_candles"] == 92


def test_an_open_market_resumes_after_its_last_candle(kalshi, warehouse_engine):
    midday = datetime(2026, 2, 15, 17, 30, tzinfo=UTC)
    first = _download(kalshi, warehouse_engine, start=date(2026, 2, 2), until=midday)
    assert first.candles.candles_new == 2 * 12  # 06:00 ... 17:00
    kalshi.requests.clear()
    second = _download(kalshi, warehouse_engine, start=date(2026, 2, 2))
    # It asks again from the last stored candle's end (inclusive), which comes back unchanged.
    starts = {p: int(q["start_ts"]) for p, q in kalshi.requests if p.endswith("/candlesticks")}
    assert set(starts.values()) == {int(datetime(2026, 2, 15, 17, tzinfo=UTC).timestamp())}
    assert (second.candles.candles_new, second.candles.candles_changed) == (2 * 11, 0)
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("select bool_and(complete) from quote_downloads")).scalar_one()


def test_listings_follow_the_cursor_with_the_spec_parameters(kalshi):
    with kalshi.client() as client:
        markets = client.markets_closing(
            series_ticker="KXTSAW", min_close_ts=1, max_close_ts=2**40, page_size=1
        )
        events = client.events(series_ticker="KXTSAW", min_close_ts=1, page_size=1)
        archived = client.historical_markets(series_ticker="KXTSAW", page_size=1)
    assert [m.ticker for m in markets] == [f"{NEW}-A2.30", f"{NEW}-A2.35"]
    assert [e.event_ticker for e in events] == [OLD, NEW]
    assert [m.result for m in archived] == ["yes", "yes"]
    market_calls = [q for p, q in kalshi.requests if p == "/markets"]
    assert len(market_calls) == 2 and market_calls[0] == {
        "series_ticker": "KXTSAW",
        "min_close_ts": "1",
        "max_close_ts": str(2**40),
        "limit": "1",
    }
    assert market_calls[1]["cursor"] and market_calls[1]["limit"] == "1"
    assert [q.get("limit") for p, q in kalshi.requests if p == "/events"] == ["1", "1"]
