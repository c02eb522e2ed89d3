"""The market's implied distribution, its pool with the model, the learned weight, the disagreement guard."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.core.market import event_ticker_for_week
from tsa_bot.core.publication import event_known_days
from tsa_bot.pricing.market_implied import (
    DEFAULT_MARKET_WEIGHT,
    PROB_FLOOR,
    ImpliedDistribution,
    LadderQuote,
    MarketViewError,
    ScoredWeek,
    combine,
    disagreement_guard,
    implied_probabilities,
    learn_weight,
    pooled_samples,
    results_from_mean,
    sorted_quantiles,
)

D = Decimal
STRIKES = list(range(2_100_000, 2_700_001, 50_000))
UTC = dt.UTC


def quotes_of(dist: NormalDist, spread: float = 0.02) -> list[LadderQuote]:
    """A ladder quoted around a normal's survival probabilities, to the cent."""
    out = []
    for k in STRIKES:
        p = 1 - dist.cdf(k)
        bid, ask = p - spread / 2, p + spread / 2
        out.append(
            LadderQuote(
                k,
                D(f"{bid:.2f}") if bid >= 0.01 else None,
                D(f"{ask:.2f}") if ask <= 0.99 else None,
            )
        )
    return out


# ---- implied probabilities -----------------------------------------------------------------------------


def test_mids_one_sided_quotes_and_gaps():
    probs = implied_probabilities(
        [
            LadderQuote(2_300_000, D("0.90"), D("0.94")),  # mid 0.92
            LadderQuote(2_350_000, None, D("0.20")),  # no bid: 0 .. 0.20, mid 0.10
            LadderQuote(2_400_000, None, None),  # nothing quoted: left out
            LadderQuote(2_450_000, D("0.30"), D("0.20")),  # crossed: left out
            LadderQuote(2_500_000, D("0.01"), None),  # no ask: 0.01 .. 1, mid 0.505 -> pooled
        ]
    )
    assert list(probs) == [2_300_000, 2_350_000, 2_500_000]
    assert probs[2_300_000] == pytest.approx(0.92)
    # 0.10 then 0.505 rises with the strike: pool adjacent violators averages them.
    assert probs[2_350_000] == pytest.approx(0.3025) and probs[2_500_000] == pytest.approx(0.3025)


def test_probabilities_stay_inside_zero_and_one():
    probs = implied_probabilities(
        [LadderQuote(2_000_000, D("1.00"), D("1.00")), LadderQuote(3_000_000, D(0), D(0))]
    )
    assert probs == {2_000_000: 1 - PROB_FLOOR, 3_000_000: PROB_FLOOR}


def test_an_empty_or_doubled_snapshot_is_a_one_line_error():
    with pytest.raises(MarketViewError, match="no strike"):
        implied_probabilities([LadderQuote(2_300_000, None, None)])
    with pytest.raises(MarketViewError, match="twice"):
        implied_probabilities([LadderQuote(2_300_000, D("0.4"), D("0.5"))] * 2)
    with pytest.raises(MarketViewError, match="two quoted strikes"):
        ImpliedDistribution.from_probabilities({2_300_000: 0.5})


def test_a_normal_ladder_gives_back_the_normal():
    truth = NormalDist(2_400_000, 60_000)
    market = ImpliedDistribution.from_probabilities(implied_probabilities(quotes_of(truth, spread=0.0)))
    assert market.median == pytest.approx(truth.median, abs=3_000)
    for q in (0.05, 0.25, 0.75, 0.95):
        assert market.quantile(q) == pytest.approx(truth.inv_cdf(q), abs=6_000)
    # Beyond the last strike the tail is a normal one, not a wall.
    assert market.quantile(0.9999) > STRIKES[-1]
    assert float(np.mean(market.samples(4000))) == pytest.approx(truth.mean, abs=3_000)


quote_lists = st.lists(
    st.tuples(
        st.sampled_from(STRIKES),
        st.one_of(st.none(), st.integers(0, 100)),
        st.one_of(st.none(), st.integers(0, 100)),
    ),
    min_size=2,
    max_size=len(STRIKES),
    unique_by=lambda t: t[0],
)


@settings(max_examples=200, deadline=None)
@given(quote_lists)
def test_the_implied_cdf_is_monotone(raw):
    quotes = [
        LadderQuote(k, None if b is None else D(b) / 100, None if a is None else D(a) / 100)
        for k, b, a in raw
    ]
    try:
        probs = implied_probabilities(quotes)
    except MarketViewError:
        assert all(
            (b is None and a is None) or (b is not None and a is not None and b > a) for _, b, a in raw
        )
        return
    strikes = sorted(probs)
    values = [probs[k] for k in strikes]
    assert all(PROB_FLOOR <= v <= 1 - PROB_FLOOR for v in values)
    assert all(a >= b for a, b in itertools.pairwise(values))
    if len(probs) < 2:
        return
    market = ImpliedDistribution.from_probabilities(probs)
    grid = np.linspace(STRIKES[0] - 200_000, STRIKES[-1] + 200_000, 301)
    cdf = [1 - market.survival(x) for x in grid]
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(cdf))
    for k in strikes:  # it goes through the market's own points
        assert market.survival(k) == pytest.approx(probs[k], abs=1e-6)
    levels = np.linspace(0.001, 0.999, 200)
    assert np.all(np.diff(market.quantiles(levels)) >= 0)


# ---- combination ---------------------------------------------------------------------------------------


def test_the_linear_pool_on_plain_numbers():
    model = {2_300_000: 0.9, 2_400_000: 0.5}
    market = {2_300_000: 0.7, 2_400_000: 0.1}
    assert combine(model, market, 0.25) == pytest.approx({2_300_000: 0.85, 2_400_000: 0.4})
    assert combine(model, market, 0.0) == model
    assert combine(model, market, 1.0) == market
    with pytest.raises(ValueError, match="between 0 and 1"):
        combine(model, market, 1.5)


def test_the_pool_reads_model_samples_and_unquoted_strikes():
    samples = np.array([2.25e6, 2.35e6, 2.35e6, 2.45e6])
    market = {2_300_000: 0.8, 2_400_000: 0.2}
    pooled = combine(samples, market, 0.5)
    assert pooled == pytest.approx({2_300_000: 0.5 * 0.75 + 0.4, 2_400_000: 0.5 * 0.25 + 0.1})
    # A strike the market did not quote is read off its implied distribution: here, its median.
    between = combine({2_350_000: 0.5}, market, 1.0)[2_350_000]
    assert between == pytest.approx(0.5, abs=1e-6)


def test_pooled_samples_mix_model_and_market_by_weight():
    model = np.random.default_rng(3).normal(2.5e6, 0.03e6, 4000)
    market = ImpliedDistribution.from_probabilities(
        implied_probabilities(quotes_of(NormalDist(2.3e6, 0.05e6)))
    )
    for w in (0.0, 0.3, 1.0):
        pooled = pooled_samples(model, market, w)
        assert len(pooled) == len(model) and np.all(np.diff(pooled) >= 0)
        # The share of weeks above 2.40 M is the pool of the two shares.
        expected = (1 - w) * float(np.mean(model > 2.4e6)) + w * market.survival(2.4e6)
        assert float(np.mean(pooled > 2.4e6)) == pytest.approx(expected, abs=2 / len(model))
    assert np.array_equal(pooled_samples(model, market, 0.3), pooled_samples(model, market, 0.3))


@settings(max_examples=300)
@given(
    values=st.lists(
        st.floats(min_value=-1e7, max_value=1e7, allow_nan=False, allow_subnormal=False),
        min_size=1,
        max_size=60,
    ),
    levels=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40),
)
def test_sorted_quantiles_are_numpys_quantiles_to_the_bit(values, levels):
    """The pool's quantiles come from one sort, not np.quantile's partition per call: same numbers."""
    sample, at = np.asarray(values), np.asarray(levels)
    assert np.array_equal(sorted_quantiles(np.sort(sample), at), np.quantile(sample, at))


def test_samples_are_the_evenly_spaced_quantiles_whatever_was_sampled_before():
    """``samples(n)`` reuses the probits of its levels across distributions: the numbers must not change."""
    wide, narrow = (
        ImpliedDistribution.from_probabilities(implied_probabilities(quotes_of(NormalDist(2.3e6, sd))))
        for sd in (0.08e6, 0.02e6)
    )
    for n in (1, 2, 501, 4000):
        for market in (wide, narrow, wide):
            expected = market.quantiles((np.arange(n) + 0.5) / n)
            assert np.array_equal(market.samples(n), expected)
    assert not np.array_equal(wide.samples(100), narrow.samples(100))


# ---- the learned weight --------------------------------------------------------------------------------

START = dt.datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def scored_week(i: int, model_center: float, market_center: float, truth: float) -> ScoredWeek:
    moment = START + dt.timedelta(weeks=i)
    return ScoredWeek(
        event_ticker=f"KXTSAW-W{i:03d}",
        moment=moment,
        settled_at=moment + dt.timedelta(days=8),
        model={k: 1 - NormalDist(model_center, 40_000).cdf(k) for k in STRIKES},
        market={k: 1 - NormalDist(market_center, 40_000).cdf(k) for k in STRIKES},
        results=results_from_mean(truth, STRIKES),
    )


def test_results_follow_the_strict_greater_than():
    assert results_from_mean(2_300_000, [2_250_000, 2_300_000]) == {2_250_000: True, 2_300_000: False}


def test_few_settled_weeks_give_the_documented_default():
    history = [scored_week(i, 2.4e6, 2.4e6, 2.4e6) for i in range(3)]
    choice = learn_weight(history, START + dt.timedelta(weeks=10))
    assert choice.market_weight == DEFAULT_MARKET_WEIGHT
    assert choice.weeks == 3 and "fewer than 8" in choice.reason


def test_the_weight_follows_who_scored_better():
    rng = np.random.default_rng(5)
    truths = rng.normal(2.4e6, 60_000, 30)
    # The market is always right; the model is 60,000 off either way.
    market_right = [scored_week(i, t + rng.choice([-60_000, 60_000]), t, t) for i, t in enumerate(truths)]
    choice = learn_weight(market_right, START + dt.timedelta(weeks=40))
    assert choice.market_weight >= 0.9 and choice.brier_market < choice.brier_model
    model_right = [scored_week(i, t, t + rng.choice([-60_000, 60_000]), t) for i, t in enumerate(truths)]
    choice = learn_weight(model_right, START + dt.timedelta(weeks=40))
    assert choice.market_weight <= 0.1 and choice.weeks == 30
    assert "Brier" in choice.reason


def test_a_week_settled_after_the_moment_is_not_seen():
    rng = np.random.default_rng(6)
    truths = rng.normal(2.4e6, 60_000, 12)
    history = [scored_week(i, t, t + 60_000, t) for i, t in enumerate(truths)]
    moment = history[10].moment + dt.timedelta(days=2)  # week 9 settled a day ago; week 10 is still open
    seen = learn_weight(history, moment)
    assert seen.weeks == 10
    assert seen == learn_weight(history[:10], moment)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(2.2e6, 2.6e6), st.floats(2.2e6, 2.6e6), st.floats(2.2e6, 2.6e6)), max_size=30
    ),
    st.integers(0, 35),
    st.integers(1, 10),
)
def test_later_weeks_do_not_change_the_weight_at_an_earlier_moment(weeks, cut, min_weeks):
    # A truncation test: the history known at the moment, and the same with every later week added.
    history = [scored_week(i, m, k, t) for i, (m, k, t) in enumerate(weeks)]
    moment = START + dt.timedelta(weeks=cut, hours=1)
    before = [h for h in history if h.settled_at < moment]
    assert learn_weight(history, moment, min_weeks=min_weeks) == learn_weight(
        before, moment, min_weeks=min_weeks
    )


def week_at(i: int, known_days: int, model_center: float, market_center: float, truth: float) -> ScoredWeek:
    """A real event's week (from Monday 2026-01-05) scored at a moment with ``known_days`` published:
    09:30 New York on the weekday after the last known day (Monday for 0)."""
    monday = dt.date(2026, 1, 5) + dt.timedelta(weeks=i)
    moment = dt.datetime.combine(monday + dt.timedelta(days=known_days), dt.time(14, 30), UTC)
    return ScoredWeek(
        event_ticker=event_ticker_for_week(monday),
        moment=moment,
        settled_at=dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(14), UTC),
        model={k: 1 - NormalDist(model_center, 40_000).cdf(k) for k in STRIKES},
        market={k: 1 - NormalDist(market_center, 40_000).cdf(k) for k in STRIKES},
        results=results_from_mean(truth, STRIKES),
    )


def test_the_weight_is_learned_per_known_days_count():
    # Early in the week the market knows better; by Thursday the model does. One weight for the whole
    # week would average the two; one per count gives each moment the pool that scored best there.
    rng = np.random.default_rng(8)
    history = []
    for i, truth in enumerate(rng.normal(2.4e6, 60_000, 12)):
        off = float(rng.choice([-60_000, 60_000]))
        history += [week_at(i, 0, truth + off, truth, truth), week_at(i, 3, truth, truth + off, truth)]
    moment = dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert event_known_days(history[0].event_ticker, history[0].moment) == 0
    assert event_known_days(history[1].event_ticker, history[1].moment) == 3
    monday, thursday = (learn_weight(history, moment, known_days=k) for k in (0, 3))
    assert monday.market_weight >= 0.9 and monday.known_days == 0 and "at 0 known days" in monday.reason
    assert thursday.market_weight <= 0.1 and thursday.known_days == 3 and thursday.weeks == 12
    either = learn_weight(history, moment)
    assert thursday.market_weight < either.market_weight < monday.market_weight and either.known_days is None


def test_too_few_weeks_at_a_count_learn_from_every_moment_and_say_so():
    rng = np.random.default_rng(9)
    history = []
    for i, truth in enumerate(rng.normal(2.4e6, 60_000, 12)):
        off = float(rng.choice([-60_000, 60_000]))
        history.append(week_at(i, 0, truth + off, truth, truth))
        if i < 5:  # the bot ran on Thursdays for five weeks only
            history.append(week_at(i, 3, truth + off, truth, truth))
    moment = dt.datetime(2026, 6, 1, tzinfo=UTC)
    thursday = learn_weight(history, moment, known_days=3)
    assert thursday.known_days is None and thursday.weeks == 12
    assert "every moment: 5 at 3 known days, fewer than 8" in thursday.reason
    assert thursday.market_weight == learn_weight(history, moment).market_weight
    # With a count nobody ran at and too few weeks overall: the documented default.
    few = learn_weight(history[:6], moment, known_days=5)
    assert few.market_weight == DEFAULT_MARKET_WEIGHT and few.brier_pooled is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), *(st.floats(2.2e6, 2.6e6) for _ in range(3))),
        max_size=40,
    ),
    st.integers(0, 45),
    st.integers(0, 6),
)
def test_the_weight_at_a_count_is_the_same_from_the_history_cut_at_the_moment(weeks, cut, known_days):
    history = [week_at(i // 2, k, m, c, t) for i, (k, m, c, t) in enumerate(weeks)]
    day = dt.date(2026, 1, 5) + dt.timedelta(weeks=cut // 2, days=cut % 7)
    moment = dt.datetime.combine(day, dt.time(15), UTC)
    cut_history = [h for h in history if h.settled_at < moment and h.moment < moment]
    assert learn_weight(history, moment, known_days=known_days, min_weeks=3) == learn_weight(
        cut_history, moment, known_days=known_days, min_weeks=3
    )


def test_a_moment_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        learn_weight([], dt.datetime(2026, 1, 1))


# ---- the disagreement guard -------------------------------------------------------------------------------


def market_at(center: float, sd: float = 50_000) -> ImpliedDistribution:
    return ImpliedDistribution.from_probabilities(implied_probabilities(quotes_of(NormalDist(center, sd))))


MODEL = np.random.default_rng(11).normal(2.45e6, 40_000, 5000)


def test_the_guard_lets_a_normal_week_trade():
    verdict = disagreement_guard(MODEL, market_at(2.46e6))
    assert (verdict.action, verdict.factor) == ("trade", 1.0)
    assert "guard quiet" in verdict.reason and "within 3 sd of the model's error" in verdict.reason


def test_the_guard_stays_quiet_on_a_disagreement_the_models_own_error_explains():
    # Two model sd apart: the size of the model's ordinary error (1 week in 20), which the pool weighs.
    verdict = disagreement_guard(MODEL, market_at(2.45e6 + 80_000))
    assert (verdict.action, verdict.factor) == ("trade", 1.0)
    assert verdict.z == pytest.approx(2.0, abs=0.1)


def test_the_guard_skips_a_shock_week_and_says_why():
    # A winter storm: the market prices the week 200,000 below a model that cannot know of it.
    verdict = disagreement_guard(MODEL, market_at(2.25e6))
    assert (verdict.action, verdict.factor) == ("skip", 0.0)
    assert verdict.z < -4
    assert "guard acted" in verdict.reason and "2.250 M" in verdict.reason
    assert "outside the model's ±4 sd" in verdict.reason and "skipping" in verdict.reason


def test_the_guard_shrinks_in_between():
    verdict = disagreement_guard(MODEL, market_at(2.45e6 + 140_000))  # 3.5 model sd
    assert verdict.action == "shrink" and 0 < verdict.factor < 1
    assert verdict.factor == pytest.approx(4 - abs(verdict.z))
    assert "guard acted" in verdict.reason and f"{verdict.factor:.0%}" in verdict.reason


def test_the_guards_scale_is_the_models_ordinary_error_not_one_outlier_week():
    # One past week 10 sd off (a holiday the model missed) fattens the tail, not the model's ordinary error.
    tailed = np.concatenate([MODEL, np.full(100, 2.45e6 + 400_000)])
    assert np.std(tailed) > 1.5 * np.std(MODEL)
    assert disagreement_guard(tailed, market_at(2.25e6)).action == "skip"


def test_the_guard_refuses_bands_out_of_order():
    with pytest.raises(ValueError, match="act_z < skip_z"):
        disagreement_guard(MODEL, market_at(2.46e6), act_z=4, skip_z=3)
