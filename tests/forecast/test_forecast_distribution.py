import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsa_bot.forecast.calibration import VOLATILITY_POWER, PastError, errors_before, kernel_bandwidth
from tsa_bot.forecast.distribution import STRIKES, WeekForecast, build_forecast, week_mean_samples

MONDAY = dt.date(2025, 3, 3)


def _forecast(samples, known_days=0):
    return WeekForecast(MONDAY, MONDAY + dt.timedelta(days=known_days), known_days, "test", tuple(samples))


def test_strike_grid_is_kalshis():
    assert STRIKES[0] == 1_500_000
    assert STRIKES[-1] == 3_200_000
    assert len(STRIKES) == 35
    assert set(np.diff(STRIKES)) == {50_000}


def test_prob_above_is_strictly_greater():
    f = _forecast([2_300_000.0, 2_350_000.0, 2_400_000.0, 2_450_000.0])
    assert f.prob_above(2_350_000) == 0.5  # a sample equal to the strike does not count
    assert f.prob_above(2_349_999) == 0.75
    assert f.prob_above(2_450_000) == 0.0
    assert f.prob_above(1_500_000) == 1.0


def test_mean_and_quantiles():
    f = _forecast(np.linspace(2_000_000, 3_000_000, 101))
    assert f.mean == pytest.approx(2_500_000)
    assert f.quantile(0.1) == pytest.approx(2_100_000)
    assert f.quantile(0.9) == pytest.approx(2_900_000)
    with pytest.raises(ValueError):
        f.quantile(1.5)


def test_known_days_must_be_0_to_6():
    with pytest.raises(ValueError):
        _forecast([1.0], known_days=7)


def test_known_days_enter_the_mean_exactly():
    errors = [-0.02, -0.01, 0.0, 0.01, 0.02]
    # Six days known summing to 12.6 M, the Sunday forecast at 2.0 M: only 1/7 of the spread remains.
    six_known = week_mean_samples(12_600_000, 2_000_000, errors, bandwidth=0.0)
    none_known = week_mean_samples(0, 14_600_000, errors, bandwidth=0.0)
    assert np.median(six_known) == pytest.approx(14_600_000 / 7)
    assert np.median(none_known) == pytest.approx(14_600_000 / 7)
    assert np.ptp(six_known) < np.ptp(none_known) / 6


def test_build_forecast_sets_as_of_from_known_days():
    f = build_forecast(MONDAY, 3, "v", 7_000_000, 9_000_000, [0.0, 0.01, -0.01], 0.005)
    assert f.as_of == dt.date(2025, 3, 6)
    assert f.mean == pytest.approx(16_000_000 / 7, rel=1e-3)


@given(
    errors=st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=40),
    bandwidth=st.floats(0.0, 0.05),
    known=st.integers(0, 6),
)
def test_strike_probabilities_are_monotone_probabilities(errors, bandwidth, known):
    f = build_forecast(MONDAY, known, "v", known * 2_300_000.0, (7 - known) * 2_300_000.0, errors, bandwidth)
    probs = list(f.strike_probabilities().values())
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert all(a >= b for a, b in itertools.pairwise(probs))
    assert f.quantile(0.1) <= f.quantile(0.5) <= f.quantile(0.9)


def test_calibration_uses_only_whole_weeks_before_and_within_the_window():
    errors = [PastError(MONDAY - dt.timedelta(weeks=w), k, float(w)) for w in range(0, 60) for k in (0, 3)]
    picked = errors_before(errors, MONDAY, 3, weeks=52)
    assert sorted(picked) == [float(w) for w in range(1, 53)]  # not this week (w=0), not beyond 52 weeks


def test_calibration_errors_scale_with_the_forecasters_recent_error_size():
    # Past errors made in calm spells (volatility 0.01) widen when the model has lately erred four times
    # as much, by a power of the ratio below 1 (a partial scaling). Errors without a volatility stay put.
    assert 0 < VOLATILITY_POWER < 1
    calm = [PastError(MONDAY - dt.timedelta(weeks=w), 0, 0.02 * (-1) ** w, 0.01) for w in range(1, 11)]
    plain = [PastError(MONDAY - dt.timedelta(weeks=w), 1, 0.02, None) for w in range(1, 11)]
    unscaled = errors_before(calm, MONDAY, 0)
    wider = 4**VOLATILITY_POWER
    assert errors_before(calm, MONDAY, 0, volatility=0.04) == pytest.approx([wider * e for e in unscaled])
    assert errors_before(calm, MONDAY, 0, volatility=0.0025) == pytest.approx([e / wider for e in unscaled])
    assert errors_before(calm, MONDAY, 0, volatility=float("nan")) == unscaled
    assert errors_before(plain, MONDAY, 1, volatility=0.04) == [0.02] * 10
    # A past week with no error at all cannot blow the scale up to infinity.
    still = [PastError(MONDAY - dt.timedelta(weeks=1), 0, 0.01, 0.0)]
    assert np.isfinite(errors_before(still, MONDAY, 0, volatility=0.05)).all()


@given(
    errors=st.lists(st.floats(-0.1, 0.1), min_size=2, max_size=60).filter(lambda e: np.var(e) > 1e-8),
    bandwidth=st.floats(0.0, 0.05),
)
def test_kernel_smoothing_keeps_the_errors_own_mean_and_variance(errors, bandwidth):
    # Smoothing may fill the gaps between past errors, but must not widen the distribution beyond them.
    known, remaining = 3 * 2_300_000.0, 4 * 2_300_000.0
    samples = week_mean_samples(known, remaining, errors, bandwidth)
    spread = np.log((7 * samples - known) / remaining)
    assert spread.mean() == pytest.approx(np.mean(errors), abs=1e-9)
    assert spread.var() == pytest.approx(np.var(errors), rel=1e-6)


def test_kernel_bandwidth_scales_with_spread():
    rng = np.random.default_rng(1)
    narrow = kernel_bandwidth(rng.normal(0, 0.01, 100))
    wide = kernel_bandwidth(rng.normal(0, 0.05, 100))
    assert 3 < wide / narrow < 7
    assert kernel_bandwidth([0.1]) > 0
