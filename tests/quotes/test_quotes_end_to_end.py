"""``tsabot kalshi history`` end to end: the simulator's crowd market over real HTTP into real PostgreSQL.

Three past weeks, the first archived behind the historical cutoff: downloaded, downloaded again (adding
nothing), interrupted and resumed, paced under the read limit, and exported/imported byte for byte.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from tsa_bot.kalshi.client import RetryPolicy
from tsa_bot.kalshi.errors import KalshiRateLimited, KalshiServerError
from tsa_bot.kalshi.hosts import KalshiSettings
from tsa_bot.kalshi_sim import HistorySeed, running_simulator
from tsa_bot.local.cli import main
from tsa_bot.quotes.download import download_history, history_client
from tsa_bot.warehouse.migrate import migrate

pytestmark = pytest.mark.slow

WEEKS = HistorySeed(date(2025, 9, 8), date(2025, 9, 22))  # KXTSAW-25SEP14, -25SEP21, -25SEP28
ARCHIVED, LAST = "KXTSAW-25SEP14", "KXTSAW-25SEP28"
CUTOFF = datetime(2025, 9, 20, tzinfo=UTC)  # after the first week's settlement, before the second's
RANGE = ("--start", "2025-09-08", "--end", "2025-09-30")
FAST = RetryPolicy(attempts=2, backoff_s=0.001, max_backoff_s=0.002, budget_s=2.0)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(read_rate=100_000, history=WEEKS, cutoff=CUTOFF.timestamp()) as running:
        yield running


@pytest.fixture
def kalshi_env(sim, tsa_env, monkeypatch):
    monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
    return sim


def _candle_requests(sim, since: int) -> list[str]:
    return [path for _, path in sim.requests[since:] if path.endswith("/candlesticks")]


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
            for t in ("quote_events", "quote_markets", "quote_candles")
        }


def test_history_downloads_over_http_and_a_second_run_adds_nothing(kalshi_env, warehouse_engine, capsys):
    sim = kalshi_env
    since = len(sim.requests)
    assert (
        main(["kalshi", "history", "--series", "KXTSAW", *RANGE, "--period", "1440", "--read-rate", "500"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        "KXTSAW 2025-09-08 to 2025-09-30: 3 events, 63 markets (21 archived; 63 new, 0 changed)"
    )
    paths = _candle_requests(sim, since)
    assert len(paths) == 63
    assert sum(p.startswith("/trade-api/v2/historical/markets/" + ARCHIVED) for p in paths) == 21
    assert sum(p.startswith("/trade-api/v2/series/KXTSAW/markets/") for p in paths) == 42
    counts = _counts(warehouse_engine)
    assert counts["quote_events"] == 3 and counts["quote_markets"] == 63
    assert counts["quote_candles"] == 63 * 8

    # What was stored is what the exchange says: settlement, strike and one archived candle to the digit.
    with history_client(KalshiSettings(api_base=sim.base_url), read_rate=500) as client:
        archived = {m.ticker: m for m in client.historical_markets(series_ticker="KXTSAW")}
        ticker = sorted(archived)[0]
        candles = client.historical_market_candlesticks(
            ticker,
            start_ts=0,
            end_ts=int(datetime(2025, 9, 30, tzinfo=UTC).timestamp()),
            period_interval=1440,
        )
    with warehouse_engine.connect() as conn:
        market = conn.execute(sa.text("select * from quote_markets where ticker = :t"), {"t": ticker}).one()
        stored = conn.execute(
            sa.text(
                "select * from quote_candles where ticker = :t and period_minutes = 1440 order by end_ts"
            ),
            {"t": ticker},
        ).all()
    assert (market.result, market.expiration_value, market.floor_strike, market.archived) == (
        archived[ticker].result,
        archived[ticker].expiration_value,
        archived[ticker].floor_strike,
        True,
    )
    assert market.result in ("yes", "no")
    assert [(c.end_ts, c.yes_bid_close, c.yes_ask_close, c.price_close, c.volume) for c in stored] == [
        (c.end_period_ts, c.yes_bid.close, c.yes_ask.close, c.price.close, c.volume) for c in candles
    ]

    since = len(sim.requests)
    assert (
        main(["kalshi", "history", "--series", "KXTSAW", *RANGE, "--period", "1440", "--read-rate", "500"])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "(21 archived; 0 new, 0 changed); 1440-minute candles: 0 requests, 0 new, 0 changed, 63 markets"
        in out
    )
    assert _candle_requests(sim, since) == []
    assert _counts(warehouse_engine) == counts


def test_export_of_a_download_imports_into_another_warehouse_byte_for_byte(
    kalshi_env, warehouse_engine, scratch_database, tmp_path, capsys, monkeypatch
):
    assert main(["kalshi", "history", *RANGE, "--period", "60", "--read-rate", "500"]) == 0
    first = tmp_path / "first.csv"
    assert main(["kalshi", "history", "--export", str(first), "--period", "60"]) == 0
    rows = first.read_text().splitlines()
    assert len(rows) - 1 == _counts(warehouse_engine)["quote_candles"] > 63 * 100
    results = [r.split(",")[9] for r in rows[1:]]
    assert "yes" in results and "no" in results
    with scratch_database("tsabot_quotes_copy") as other:
        engine = sa.create_engine(other)
        migrate(engine)
        engine.dispose()
        monkeypatch.setenv("TSA_WAREHOUSE_URL", other)
        assert main(["kalshi", "history", "--import", str(first), "--period", "60"]) == 0
        second = tmp_path / "second.csv"
        assert main(["kalshi", "history", "--export", str(second), "--period", "60"]) == 0
        assert second.read_bytes() == first.read_bytes()
    capsys.readouterr()


def test_an_interrupted_download_resumes_where_it_stopped(sim, warehouse_engine):
    # The last week's first market fails twice (every attempt): the download stops there.
    failing = sorted(sim.exchange.events[LAST]["tickers"])[0]
    sim.inject("GET", f"/series/KXTSAW/markets/{failing}/candlesticks", "500", times=FAST.attempts)
    settings = KalshiSettings(api_base=sim.base_url)
    args = {"start": date(2025, 9, 8), "end": date(2025, 9, 30), "period": 1440}
    with history_client(settings, read_rate=500, retry=FAST) as client, pytest.raises(KalshiServerError):
        download_history(client, warehouse_engine, **args)
    with warehouse_engine.connect() as conn:
        done = conn.execute(sa.text("select count(*) from quote_downloads where complete")).scalar_one()
    assert done == 42  # the two earlier weeks, each market's candles and progress stored together

    since = len(sim.requests)
    with history_client(settings, read_rate=500, retry=FAST) as client:
        resumed = download_history(client, warehouse_engine, **args)
    assert resumed.candles.markets_complete_before == 42 and resumed.candles.requests == 21
    assert all(LAST in p for p in _candle_requests(sim, since))
    with warehouse_engine.connect() as conn:
        per_market = conn.execute(
            sa.text(
                "select count(distinct ticker), min(n), max(n) from"
                " (select ticker, count(*) n from quote_candles group by ticker) t"
            )
        ).one()
    # Eight daily candles a market: seven days and the one that holds the close (Monday 03:59 UTC).
    assert tuple(per_market) == (63, 8, 8)


@pytest.mark.slow
def test_the_download_is_paced_under_the_read_limit(warehouse_engine, scratch_database):
    """Paced at the exchange's own limit (10 reads/s here), with no retries at all, nothing is refused;
    unpaced, the same download is."""
    args = {"start": date(2025, 9, 8), "end": date(2025, 9, 30), "period": 1440}
    no_retry = RetryPolicy(attempts=1)
    with running_simulator(read_rate=10, history=WEEKS) as sim:
        with history_client(KalshiSettings(api_base=sim.base_url), read_rate=10, retry=no_retry) as client:
            summary = download_history(client, warehouse_engine, **args)
        assert summary.candles.requests == 63
    with (
        scratch_database("tsabot_quotes_unpaced") as url,
        running_simulator(read_rate=10, history=WEEKS) as sim,
        history_client(KalshiSettings(api_base=sim.base_url), read_rate=10_000, retry=no_retry) as client,
    ):
        engine = sa.create_engine(url)
        migrate(engine)
        with pytest.raises(KalshiRateLimited):
            download_history(client, engine, **args)
        engine.dispose()
