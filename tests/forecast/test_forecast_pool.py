"""The pool of the Prophet forecaster and the YoY baseline: the pooling functions, the weight in time."""

import datetime as dt
import itertools
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.forecast.backtest import run_backtest
from tsa_bot.forecast.cache import default_cache
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.distribution import STRIKES, WeekForecast
from tsa_bot.forecast.pool import (
    DEFAULT_WEIGHT,
    MIN_POOL_WEEKS,
    WEIGHT_GRID,
    SettledWeek,
    choose_weight,
    crps,
    pool_samples,
    pooled_forecast,
)
from tsa_bot.forecast.pool import (
    forecast as pool_forecast,
)

WEEK = dt.date(2025, 5, 19)


def _normal(mean: float, sd: float, n: int = 1001) -> np.ndarray:
    z = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    return mean + sd * z


def _inverted_cdf(values: np.ndarray, q: float) -> float:
    return float(np.quantile(np.sort(values), q, method="inverted_cdf"))


component = st.lists(
    st.floats(min_value=1.5e6, max_value=3.2e6, allow_nan=False), min_size=5, max_size=80
).map(np.array)
weights = st.floats(min_value=0.0, max_value=1.0)
levels = st.floats(min_value=0.01, max_value=0.99)


@settings(max_examples=200, deadline=None)
@given(component, component, weights, levels)
def test_the_linear_pools_quantiles_lie_between_the_components(a, b, w, q):
    """The mixture's quantile at q lies between the components' at q. The pool resamples it at n evenly
    spaced levels, so the pooled samples' quantile at q is the mixture's at a level within 1/(2n) of q."""
    pooled = pool_samples(a, b, w, "linear")
    assert pooled.size == ({0.0: a.size, 1.0: b.size}.get(w) or max(a.size, b.size))
    half_step = 0.5 / pooled.size
    low = min(_inverted_cdf(a, max(q - half_step, 0.0)), _inverted_cdf(b, max(q - half_step, 0.0)))
    high = max(_inverted_cdf(a, min(q + half_step, 1.0)), _inverted_cdf(b, min(q + half_step, 1.0)))
    assert low <= _inverted_cdf(pooled, q) <= high
    # At the pool's own levels there is no resampling slack.
    level = (np.floor(q * pooled.size) + 0.5) / pooled.size
    exact = pooled[int(np.floor(q * pooled.size))]
    assert min(_inverted_cdf(a, level), _inverted_cdf(b, level)) <= exact
    assert exact <= max(_inverted_cdf(a, level), _inverted_cdf(b, level))


@settings(max_examples=100, deadline=None)
@given(component, component, st.sampled_from(["linear", "log"]))
def test_weight_zero_is_prophet_and_weight_one_is_the_baseline(a, b, method):
    assert np.array_equal(pool_samples(a, b, 0.0, method), np.sort(a))
    assert np.array_equal(pool_samples(a, b, 1.0, method), np.sort(b))


@settings(max_examples=100, deadline=None)
@given(component, component, weights, st.sampled_from(["linear", "log"]))
def test_pooled_strike_probabilities_are_monotone(a, b, w, method):
    pooled = pooled_forecast(_forecast(a), _forecast(b), w, method)
    probs = list(pooled.strike_probabilities().values())
    assert all(x >= y for x, y in itertools.pairwise(probs))
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert list(pooled.samples) == sorted(pooled.samples)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(2.0e6, 2.8e6),
    st.floats(2.0e6, 2.8e6),
    st.floats(1e4, 2e5),
    st.floats(1e4, 2e5),
    weights,
)
def test_the_log_pool_of_gaussians_is_precision_weighted(mean_a, mean_b, sd_a, sd_b, w):
    pooled = pool_samples(_normal(mean_a, sd_a), _normal(mean_b, sd_b), w, "log")
    tau = (1 - w) / sd_a**2 + w / sd_b**2
    mean = ((1 - w) * mean_a / sd_a**2 + w * mean_b / sd_b**2) / tau
    assert pooled.mean() == pytest.approx(mean, rel=1e-6)
    assert pooled.std() == pytest.approx(tau**-0.5, rel=1e-3)
    # Sharper than a mixture: never wider than the wider component, its mean between theirs.
    assert pooled.std() <= max(sd_a, sd_b) * (1 + 1e-6)
    assert min(mean_a, mean_b) - 1e-6 <= pooled.mean() <= max(mean_a, mean_b) + 1e-6


def test_the_linear_pool_is_the_mixture():
    a, b = _normal(2.3e6, 5e4), _normal(2.5e6, 5e4)
    pooled = pool_samples(a, b, 0.3, "linear")
    assert pooled.mean() == pytest.approx(0.7 * a.mean() + 0.3 * b.mean(), rel=1e-3)
    # Mass between the two modes is thin: about 70% lies below the midpoint.
    assert np.mean(pooled < 2.4e6) == pytest.approx(0.7, abs=0.01)


def test_a_weight_outside_zero_one_or_an_unknown_method_is_refused():
    a = _normal(2.3e6, 5e4)
    with pytest.raises(ValueError, match="weight"):
        pool_samples(a, a, 1.1)
    with pytest.raises(ValueError, match="method"):
        pool_samples(a, a, 0.5, "geometric")  # type: ignore[arg-type]


def test_crps_of_samples_matches_the_normal_closed_form():
    mean, sd, y = 2.4e6, 6e4, 2.47e6
    z = (y - mean) / sd
    n = NormalDist()
    exact = sd * (z * (2 * n.cdf(z) - 1) + 2 * n.pdf(z) - 1 / np.sqrt(np.pi))
    assert crps(_normal(mean, sd, 20001), y) == pytest.approx(exact, rel=1e-3)
    assert crps([5.0], 2.0) == pytest.approx(3.0)


def _forecast(samples: np.ndarray, week: dt.date = WEEK, k: int = 0) -> WeekForecast:
    return WeekForecast(
        week, week + dt.timedelta(days=k), k, "test", tuple(float(x) for x in np.sort(samples))
    )


def _settled(week: dt.date, k: int, actual: float) -> SettledWeek:
    """Prophet centred 2% high, the baseline 2% low: an even split predicts the actual best."""
    return SettledWeek(
        week,
        k,
        tuple(_normal(actual * 1.02, actual * 0.01, 201)),
        tuple(_normal(actual * 0.98, actual * 0.01, 201)),
        actual,
    )


def test_the_weight_is_learned_from_past_scores_and_defaults_without_history():
    past = [_settled(WEEK - dt.timedelta(weeks=i), 2, 2.4e6) for i in range(1, 20)]
    choice = choose_weight(past, WEEK, 2, "linear")
    assert choice.source == "learned" and choice.weeks == 19
    assert choice.weight == pytest.approx(0.5)
    # Another known-days count has no history of its own.
    assert choose_weight(past, WEEK, 3).weight == DEFAULT_WEIGHT
    few = past[: MIN_POOL_WEEKS - 1]
    assert choose_weight(few, WEEK, 2) == choose_weight([], WEEK, 2)
    assert choose_weight(few, WEEK, 2).source == "default"
    assert 0.5 in WEIGHT_GRID


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-30, -1), st.floats(-0.04, 0.04), st.floats(-0.04, 0.04), st.floats(0.005, 0.03)
        ),
        min_size=0,
        max_size=30,
    ),
    st.integers(0, 6),
    st.integers(0, 4),
)
def test_the_weight_at_a_moment_ignores_weeks_not_settled_by_then(rows, k, last_future):
    """The forecast week itself and later weeks, where the baseline is exact and Prophet 10% off (so
    they would pull the weight to 1), leave the weight as computed from the history truncated at the
    moment (the forecast's as_of)."""

    def week(offset: int, bias_a: float, bias_b: float, sd: float) -> SettledWeek:
        return SettledWeek(
            WEEK + dt.timedelta(weeks=offset),
            k,
            tuple(_normal(2.4e6 * (1 + bias_a), 2.4e6 * sd, 51)),
            tuple(_normal(2.4e6 * (1 + bias_b), 2.4e6 * sd, 51)),
            2.4e6,
        )

    past = [week(*row) for row in rows]
    future = [week(offset, 0.1, 0.0, 0.01) for offset in range(last_future + 1) for _ in range(30)]
    moment = WEEK + dt.timedelta(days=k)
    history = past + future
    truncated = [h for h in history if h.week_start + dt.timedelta(days=7) <= moment]
    assert truncated == past
    assert choose_weight(history, WEEK, k) == choose_weight(truncated, WEEK, k)


@pytest.mark.slow
def test_the_backtests_pool_at_a_moment_is_the_one_from_data_truncated_there(shared_csv):
    """Real fits: the pooled forecast and its weight for a week are those computed from the rows before
    its as_of alone, and rows after it (even a 50% shock) change neither; the live pool agrees."""
    series = load_csv(shared_csv)
    # The run's shared cache: its weeks at k = 3 are among the forecast task test's (its worker group), and a
    # hit is keyed by every row a week's forecast may see, so a cut or shocked series can only miss.
    cache = default_cache()
    as_of = WEEK + dt.timedelta(days=3)
    common = {"known_days": (3,), "calibration_weeks": 8, "pool": "linear", "cache": cache}
    full = run_backtest(series, WEEK, WEEK, pool_weeks_back=MIN_POOL_WEEKS + 2, **common)[3]
    cut = series[series.index < pd.Timestamp(as_of)]
    truncated = run_backtest(cut, WEEK, WEEK, pool_weeks_back=MIN_POOL_WEEKS + 2, **common)[3]
    shocked_series = series.copy()
    shocked_series[shocked_series.index >= pd.Timestamp(as_of)] *= 1.5
    shocked = run_backtest(shocked_series, WEEK, WEEK, pool_weeks_back=MIN_POOL_WEEKS + 2, **common)[3]

    assert full.pooled is not None and truncated.pooled is not None and shocked.pooled is not None
    reference = full.pooled[0]
    assert reference.choice.source == "learned" and reference.choice.weeks == MIN_POOL_WEEKS + 2
    assert truncated.pooled[0] == reference
    assert shocked.pooled[0] == reference
    assert reference.forecast.as_of == as_of and reference.forecast.known_days == 3
    summary = full.summary()
    assert summary["weeks"] == 1 and summary["pool"]["weeks"] == 1
    assert summary["pool"]["method"] == "linear"
    week = full.to_json()["weeks"][0]
    assert week["pool"]["weight"] == reference.choice.weight
    assert [int(s) for s in week["pool"]["prob_above"]] == list(STRIKES)
    live = pool_forecast(series, as_of, "linear", calibration_weeks=8, cache=cache, weeks=MIN_POOL_WEEKS + 2)
    assert live == reference
