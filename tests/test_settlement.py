"""Scoring forecasts after their week, and the paper settlement, on first-published numbers."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tsa_bot.core.market import NEW_YORK
from tsa_bot.core.records import DailyCount
from tsa_bot.core.scoring import PROBABILITY_CLIP, score_forecast
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.settlement.settle import settle_completed_weeks, week_actual
from tsa_bot.warehouse.tsa_daily import load_batch

WEEK = date(2025, 6, 2)  # a Monday


def test_scores_use_the_strict_above_and_clip_log_loss():
    probs = {2_400_000: 0.9, 2_450_000: 0.5, 2_500_000: 0.0}
    score = score_forecast(probs, 2_450_000, mean=2_440_000, q10=2_400_000, q90=2_480_000)
    # 2.45M is not above 2.45M: that strike resolves NO.
    assert score.brier == pytest.approx(((0.9 - 1) ** 2 + 0.5**2 + 0) / 3)
    # One documented clip for every score: p = 0 is scored as PROBABILITY_CLIP, p = 1 as 1 - PROBABILITY_CLIP.
    assert score.log_loss == pytest.approx(
        -(math.log(0.9) + math.log(0.5) + math.log(1 - PROBABILITY_CLIP)) / 3
    )
    assert score.in_80_interval and score.abs_pct_error == pytest.approx(10_000 / 2_450_000)
    miss = score_forecast({2_000_000: 0.0}, 2_450_000, 2_000_000, 1_900_000, 2_100_000)
    assert miss.log_loss == pytest.approx(-math.log(PROBABILITY_CLIP)) and not miss.in_80_interval


def _load_week(engine, first_values, revised_values=None):
    days = [DailyCount(WEEK + timedelta(days=k), v) for k, v in enumerate(first_values)]
    load_batch(engine, days, seen_at=datetime(2025, 6, 9, 14, tzinfo=UTC), run_key="first", pages=["p"])
    if revised_values:
        revised = [DailyCount(WEEK + timedelta(days=k), v) for k, v in enumerate(revised_values)]
        load_batch(engine, revised, seen_at=datetime(2026, 1, 1, tzinfo=UTC), run_key="rev", pages=["p"])


def test_week_actual_is_the_first_published_mean_once_complete(warehouse_engine):
    _load_week(warehouse_engine, [2_400_000] * 7, revised_values=[2_500_000] * 7)
    assert week_actual(warehouse_engine, WEEK, datetime(2026, 2, 1, tzinfo=UTC)) == 2_400_000
    # Before Monday's publication of Sunday's number the week is not complete.
    assert week_actual(warehouse_engine, WEEK, datetime(2025, 6, 9, 8, tzinfo=NEW_YORK)) is None


def test_completed_weeks_are_scored_once(warehouse_engine):
    _load_week(
        warehouse_engine, [2_400_000, 2_300_000, 2_350_000, 2_500_000, 2_600_000, 2_200_000, 2_550_000]
    )
    samples = tuple(sorted(2_300_000 + 2_000 * k for k in range(100)))  # 2.30M .. 2.498M
    forecast_id = save_forecast(warehouse_engine, WeekForecast(WEEK, WEEK, 0, "test", samples), "run-a")
    before = settle_completed_weeks(warehouse_engine, datetime(2025, 6, 8, 12, tzinfo=NEW_YORK))
    after = settle_completed_weeks(warehouse_engine, datetime(2025, 6, 9, 10, tzinfo=NEW_YORK))
    again = settle_completed_weeks(warehouse_engine, datetime(2025, 6, 9, 11, tzinfo=NEW_YORK))
    assert before == {"weeks": []} and again == {"weeks": []}
    assert after["weeks"][0]["scored"] == 1 and after["weeks"][0]["actual"] == 2_414_286
    with warehouse_engine.connect() as conn:
        row = conn.execute(sa.text("select * from forecast_scores")).one()
    assert row.forecast_id == forecast_id and row.in_80_interval
    assert row.abs_pct_error == pytest.approx(abs(sum(samples) / 100 - 2_414_285.714) / 2_414_285.714)


def test_the_paper_book_settles_on_the_first_published_mean_once(warehouse_engine):
    from decimal import Decimal as D

    from tsa_bot.core.market import Level, OrderBook
    from tsa_bot.pricing.fees import FeeSchedule
    from tsa_bot.pricing.quotes import MarketSnapshot
    from tsa_bot.settlement.settle import settle_paper_event
    from tsa_bot.trading import store
    from tsa_bot.trading.store import FillRecord

    event = "KXTSAW-25JUN08"
    low, high = f"{event}-A2.30", f"{event}-A2.45"
    books = tuple(
        OrderBook(ticker=t, strike=k, yes_bids=(Level(D("0.40"), D(10)),), no_bids=())
        for t, k in ((low, 2_300_000), (high, 2_450_000))
    )
    at = datetime(2025, 6, 4, 14, tzinfo=UTC)
    fills = [  # YES on 2.30 M, 10 @ 0.40; NO on 2.45 M, 5 @ 0.30 (a YES ask at 0.70)
        FillRecord("f1", "o1", None, low, "bid", D(10), D("0.40"), D("0.10"), True, at),
        FillRecord("f2", "o2", None, high, "ask", D(5), D("0.70"), D("0.05"), True, at),
    ]
    with warehouse_engine.begin() as conn:
        store.start_run(conn, "paper-run", "paper", event, "127.0.0.1", {})
        store.save_snapshot(conn, "paper-run", MarketSnapshot(event, FeeSchedule(), books, at))
        store.save_fills(conn, "paper", event, fills)
    # The mean is 2.414 M: YES on 2.30 M wins 10 x 0.60 - 0.10; NO on 2.45 M wins 5 x 0.70 - 0.05.
    result = settle_paper_event(warehouse_engine, event, 2_414_285.714)
    assert (result["positions_settled"], D(result["pnl"])) == (2, D("9.35"))
    assert settle_paper_event(warehouse_engine, event, 2_414_285.714)["positions_settled"] == 0
    with warehouse_engine.connect() as conn:
        rows = {r.ticker: r for r in conn.execute(sa.text("select * from trading_settlements"))}
    assert (rows[low].result, rows[low].pnl, rows[high].result, rows[high].pnl) == (
        "yes",
        D("5.9"),
        "no",
        D("3.45"),
    )
    assert rows[low].expiration_value == "2414285.71"
