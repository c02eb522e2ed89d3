import datetime as dt

import numpy as np
import pytest

from tsa_bot.core.errors import ValidationError
from tsa_bot.core.market import mondays_between
from tsa_bot.core.scoring import score_forecast
from tsa_bot.forecast.backtest import backtest_weeks, score, week_score
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.plot import reliability_points

MONDAY = dt.date(2025, 3, 3)


def _forecast(samples):
    return WeekForecast(MONDAY, MONDAY, 0, "test", tuple(sorted(samples)))


def test_a_sharp_correct_forecast_scores_perfectly():
    s = score([_forecast([2_412_345.0] * 10)], [2_412_345.0])
    assert s == {
        "weeks": 1,
        "mape": 0.0,
        "coverage80": 1.0,
        "brier": 0.0,
        "log_loss": pytest.approx(1e-3, rel=0.01),
    }


def test_an_outcome_equal_to_a_strike_settles_no():
    # All samples at 2.40 M and the actual exactly 2.40 M: "above 2.40 M" is a NO, and was forecast as one.
    s = score([_forecast([2_400_000.0] * 10)], [2_400_000.0])
    assert s["brier"] == 0.0


def test_scores_penalise_a_wrong_confident_forecast():
    good = score([_forecast(np.linspace(2.35e6, 2.45e6, 50))], [2.4e6])
    bad = score([_forecast(np.linspace(2.05e6, 2.15e6, 50))], [2.4e6])
    assert bad["mape"] == pytest.approx(0.3 / 2.4, rel=0.01)
    assert bad["coverage80"] == 0.0
    assert bad["brier"] > good["brier"]
    assert bad["log_loss"] > good["log_loss"]


def test_weeks_without_an_outcome_are_not_scored():
    s = score([_forecast([2.4e6]), _forecast([2.5e6])], [None, 2.5e6])
    assert s["weeks"] == 1
    assert score([_forecast([2.4e6])], [None])["mape"] is None


def test_mondays_between():
    assert mondays_between(dt.date(2025, 3, 1), dt.date(2025, 3, 17)) == [
        dt.date(2025, 3, 3),
        dt.date(2025, 3, 10),
        dt.date(2025, 3, 17),
    ]
    assert mondays_between(dt.date(2025, 3, 4), dt.date(2025, 3, 9)) == []
    assert mondays_between(dt.date(2025, 3, 9), dt.date(2025, 3, 4)) == []
    # The backtest's range is checked before it is walked: a reversed or Monday-less range is an error.
    assert backtest_weeks(dt.date(2025, 3, 1), dt.date(2025, 3, 17), [0, 6]) == [
        dt.date(2025, 3, 3),
        dt.date(2025, 3, 10),
        dt.date(2025, 3, 17),
    ]
    with pytest.raises(ValidationError, match="start 2025-03-09 is after end 2025-03-04"):
        backtest_weeks(dt.date(2025, 3, 9), dt.date(2025, 3, 4), [0])
    with pytest.raises(ValidationError, match="no Monday between"):
        backtest_weeks(dt.date(2025, 3, 4), dt.date(2025, 3, 9), [0])
    with pytest.raises(ValidationError, match=r"known days must be 0\.\.6, got 7"):
        backtest_weeks(dt.date(2025, 3, 1), dt.date(2025, 3, 17), [7])


def test_the_backtest_scores_a_week_as_settlement_does():
    """One score of a week for both: the backtest's summary averages what settlement stores per forecast."""
    forecasts = [_forecast(np.linspace(2.30e6, 2.50e6, 60)), _forecast(np.linspace(2.0e6, 2.2e6, 60))]
    actuals = [2.42e6, 2.45e6]
    weeks = [week_score(f, a) for f, a in zip(forecasts, actuals, strict=True)]
    first = forecasts[0]
    assert weeks[0] == score_forecast(
        first.strike_probabilities(), 2.42e6, first.mean, first.quantile(0.1), first.quantile(0.9)
    )
    summary = score(forecasts, actuals)
    assert summary["mape"] == pytest.approx(np.mean([w.abs_pct_error for w in weeks]))
    assert summary["coverage80"] == 0.5  # the first week's interval holds its actual, the second's does not
    assert summary["brier"] == pytest.approx(np.mean([w.brier for w in weeks]))


def test_reliability_points_bin_probabilities():
    probs = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    outcomes = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    mean_p, freq, count = reliability_points(probs, outcomes, bins=10)
    np.testing.assert_allclose(mean_p, [0.05, 0.55, 0.95])
    np.testing.assert_allclose(freq, [0.5, 0.0, 1.0])
    assert count.tolist() == [2, 1, 2]
