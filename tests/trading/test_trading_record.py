"""Trading by the record (``pricing.record`` and the ``recorded`` policy): the record is read point in time
from settled weeks at the moment's known-days count, and sizes the trade: full where the pool has clearly
beaten the market, nothing where the market has been better, a fraction where it is unclear."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from test_market_weight_live import (
    FIRST_MONDAY,
    PAPER,
    decide_via_daily,
    seed_market_wins,
    seed_model_wins,
)
from trading_testkit import RUN_TIME, decision_rows

from tsa_bot.core.market import event_ticker_for_week
from tsa_bot.core.publication import known_days_at, publication_time
from tsa_bot.pricing.market_implied import ScoredWeek
from tsa_bot.pricing.record import MIN_RECORD_WEEKS, edge_record
from tsa_bot.trading.market_history import scored_history

STRIKES = (2_200_000, 2_250_000, 2_300_000)
# The run's forecast: 2.25 M cheap and 2.35 M dear against the test event's book (an edge to size).
EDGE = {2_200_000: 0.90, 2_250_000: 0.85, 2_300_000: 0.50, 2_350_000: 0.10, 2_400_000: 0.16}


def scored(monday: date, *, model_right: bool, day: int = 2) -> ScoredWeek:
    """A moment on the week's ``day`` (0 = Monday) at 15:00 UTC: the week settles YES on the low strike
    only; the right side says so with 0.9 / 0.1, the wrong side with 0.6 / 0.4."""
    results = {2_200_000: True, 2_250_000: False, 2_300_000: False}
    sharp = {k: 0.9 if r else 0.1 for k, r in results.items()}
    vague = {k: 0.6 if r else 0.4 for k, r in results.items()}
    moment = datetime.combine(monday + timedelta(days=day), datetime.min.time(), UTC).replace(hour=15)
    settled = publication_time(monday + timedelta(days=6))
    model, market = (sharp, vague) if model_right else (vague, sharp)
    return ScoredWeek(event_ticker_for_week(monday), moment, settled, model, market, results)


def weeks(n: int, *, model_right: bool, start: date = date(2025, 1, 6)) -> list[ScoredWeek]:
    return [scored(start + timedelta(weeks=i), model_right=model_right) for i in range(n)]


LATER = datetime(2026, 1, 1, tzinfo=UTC)


def test_known_days_follow_tsas_publication_schedule():
    monday = date(2026, 2, 9)
    assert known_days_at(monday, datetime(2026, 2, 9, 20, tzinfo=UTC)) == 0
    assert known_days_at(monday, datetime(2026, 2, 11, 14, tzinfo=UTC)) == 2  # Tuesday's is out at 9:00 ET
    assert known_days_at(monday, datetime(2026, 2, 14, 20, tzinfo=UTC)) == 4  # Friday's waits for Monday
    assert known_days_at(monday, datetime(2026, 2, 16, 15, tzinfo=UTC)) == 7


def test_the_verdict_sizes_full_nothing_or_a_fraction():
    k = known_days_at(date(2025, 1, 6), scored(date(2025, 1, 6), model_right=True).moment)
    beats = edge_record(weeks(12, model_right=True), LATER, k, 0.0)
    assert (beats.verdict, beats.factor, beats.weeks) == ("beats", Decimal(1), 12)
    assert beats.diff_ci90 is not None and beats.diff_ci90[0] > 0
    assert "the pool has beaten the market over 12 settled weeks" in beats.reason
    worse = edge_record(weeks(12, model_right=False), LATER, k, 0.0)
    assert (worse.verdict, worse.factor) == ("worse", Decimal(0))
    mixed = weeks(6, model_right=True) + weeks(6, model_right=False, start=date(2025, 3, 3))
    assert edge_record(mixed, LATER, k, 0.0).verdict == "unclear"
    few = edge_record(weeks(MIN_RECORD_WEEKS - 1, model_right=True), LATER, k, 0.0)
    assert (few.verdict, few.factor) == ("unclear", Decimal("0.5")) and "no record" in few.reason
    # Another known-days count has no record at all: those moments are not counted there.
    assert edge_record(weeks(12, model_right=True), LATER, k + 1, 0.0).weeks == 0
    # At market weight 1 the pool is the market: never clearly better than itself.
    assert edge_record(weeks(12, model_right=True), LATER, k, 1.0).verdict == "unclear"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=20),
    st.floats(min_value=0, max_value=1),
)
def test_the_record_at_a_moment_is_the_same_from_a_history_truncated_at_that_moment(
    rights: list[bool], cut: int, weight: float
):
    """Point in time: weeks that settle at or after the moment (and moments after it) change nothing."""
    history = [scored(date(2025, 1, 6) + timedelta(weeks=i), model_right=r) for i, r in enumerate(rights)]
    moment = datetime.combine(date(2025, 1, 6) + timedelta(weeks=cut, days=2), datetime.min.time(), UTC)
    truncated = [h for h in history if h.settled_at < moment and h.moment < moment]
    k = 2
    assert edge_record(history, moment, k, weight) == edge_record(truncated, moment, k, weight)


def test_recorded_trades_full_size_where_its_record_beats_the_market(worker_env, warehouse_engine):
    """Ten settled weeks in which the model saw the mean and the market was 80 k off: at the run's known-days
    count the pool (market weight pinned at 0: the model) has clearly beaten the market: full size, as
    ``blend`` trades with the same weight, and every decision says which record it acted on."""
    seed_model_wins(warehouse_engine, 10, FIRST_MONDAY)
    params = {**PAPER, "market_weight": 0}
    result = decide_via_daily(warehouse_engine, "rec-beats", {**params, "policy": "recorded"}, EDGE)
    assert (result["record_verdict"], result["record_factor"], result["record_weeks"]) == ("beats", "1", 10)
    assert result["record_known_days"] == 2
    blend = decide_via_daily(warehouse_engine, "rec-blend", {**params, "policy": "blend"}, EDGE)
    assert result["buys"] == blend["buys"] > 0
    rows = decision_rows(warehouse_engine, "rec-beats")
    assert all("record at 2 known days: the pool has beaten the market over 10" in r["reason"] for r in rows)


def test_recorded_trades_nothing_where_the_market_has_been_better(worker_env, warehouse_engine):
    seed_market_wins(warehouse_engine)
    history = scored_history(warehouse_engine, RUN_TIME).weeks
    assert len(history) == 10
    params = {**PAPER, "market_weight": 0, "policy": "recorded"}
    result = decide_via_daily(warehouse_engine, "rec-worse", params, EDGE)
    assert (result["record_verdict"], result["buys"]) == ("worse", 0)
    rows = decision_rows(warehouse_engine, "rec-worse")
    assert all("the market has beaten the pool" in r["reason"] for r in rows)


def test_recorded_without_history_trades_the_unclear_share_and_says_so(worker_env, warehouse_engine):
    result = decide_via_daily(warehouse_engine, "rec-none", {**PAPER, "policy": "recorded"})
    assert (result["record_verdict"], result["record_weeks"], result["record_factor"]) == (
        "unclear",
        0,
        "0.5",
    )
    rows = decision_rows(warehouse_engine, "rec-none")
    assert rows and all("no record at 2 known days" in r["reason"] for r in rows)
