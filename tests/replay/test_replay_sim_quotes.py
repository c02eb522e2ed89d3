"""The replay's quote histories come from the simulator's crowd: ``history_quote_rows`` renders a
``HistorySeed`` offline as exactly the rows ``tsabot kalshi history`` downloads over HTTP and ``--export``
writes (two weeks, daily and hourly candles, real HTTP into real PostgreSQL)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest

from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, running_simulator
from tsa_bot.local.cli import main
from tsa_bot.quotes.interchange import write_quotes

pytestmark = pytest.mark.slow

WEEKS = HistorySeed(date(2025, 9, 8), date(2025, 9, 15), seed=7)  # KXTSAW-25SEP14, KXTSAW-25SEP21


@pytest.fixture(scope="module")
def sim():
    with running_simulator(read_rate=100_000, history=WEEKS) as running:
        yield running


@pytest.mark.parametrize("period", [1440, 60])
def test_offline_rows_are_the_downloaded_and_exported_rows_byte_for_byte(
    period, sim, tsa_env, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
    download = ["kalshi", "history", "--series", "KXTSAW", "--start", "2025-09-08", "--end", "2025-09-21"]
    assert main([*download, "--period", str(period), "--read-rate", "500"]) == 0
    exported = tmp_path / "exported.csv"
    assert main(["kalshi", "history", "--export", str(exported), "--period", str(period)]) == 0
    capsys.readouterr()

    rendered = io.StringIO()
    count = write_quotes(history_quote_rows(WEEKS, period=period), rendered)
    assert count == 2 * 21 * (8 if period == 1440 else 7 * 24)
    assert rendered.getvalue() == exported.read_text()


def test_an_earlier_clock_shows_only_the_candles_ended_by_then_and_no_result_before_settlement():
    full = history_quote_rows(WEEKS)
    # The close of the second week's first day: the first week settled that morning, the second is open.
    moment = min(r.end_ts for r in full if r.event_ticker == "KXTSAW-25SEP21")
    early = history_quote_rows(WEEKS, now=moment.timestamp())
    assert {r.result for r in full} == {"yes", "no"}
    # The candles ended by then, unchanged (the crowd draws in time order); the open week has no results.
    assert early == [
        replace(r, result="" if r.event_ticker == "KXTSAW-25SEP21" else r.result)
        for r in full
        if r.end_ts <= moment
    ]
    assert len(early) == 21 * 8 + 21
