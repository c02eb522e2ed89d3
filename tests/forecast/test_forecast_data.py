import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tsa_bot.core.errors import TsaBotError, ValidationError
from tsa_bot.forecast.data import InsufficientData, history_before, load_csv, to_series, week_start_of
from tsa_bot.forecast.forecaster import forecast


def _series(start: str, days: int, value: float = 2_000_000.0) -> pd.Series:
    index = pd.date_range(start, periods=days, freq="D")
    return pd.Series(np.full(days, value), index=index)


def test_shared_csv_loads_as_a_complete_daily_series(shared_csv):
    series = load_csv(shared_csv)
    assert len(series) == 2557
    assert series.index[0] == pd.Timestamp("2019-01-01")
    assert series.index[-1] == pd.Timestamp("2025-12-31")
    assert series.index.is_monotonic_increasing
    assert (series > 0).all()


def test_history_before_cuts_strictly_before_as_of():
    series = _series("2023-01-01", 800)
    history = history_before(series, dt.date(2024, 6, 3))
    assert history.index[-1] == pd.Timestamp("2024-06-02")


def test_as_of_may_be_the_day_after_the_last_row_but_not_later():
    series = _series("2023-01-01", 800)
    last = series.index[-1].date()
    assert len(history_before(series, last + dt.timedelta(days=1))) == 800
    with pytest.raises(InsufficientData, match="after the day following the last data point"):
        history_before(series, last + dt.timedelta(days=2))


def test_gap_in_last_14_days_is_rejected():
    series = _series("2023-01-01", 800)
    gapped = series.drop(pd.Timestamp("2025-02-20"))
    with pytest.raises(InsufficientData, match="gap in the 14 days before 2025-03-01"):
        history_before(gapped, dt.date(2025, 3, 1))
    # An older gap is tolerated (it is interpolated for the fit).
    assert len(history_before(gapped, dt.date(2025, 3, 11))) == 799


def test_fewer_than_400_days_of_history_is_rejected():
    series = _series("2024-01-01", 399)
    with pytest.raises(InsufficientData, match="only 399 days of history"):
        history_before(series, series.index[-1].date() + dt.timedelta(days=1))


def test_duplicate_dates_are_rejected():
    series = _series("2024-01-01", 10)
    doubled = pd.concat([series, series.iloc[[3]]])
    with pytest.raises(ValidationError, match=r"duplicate dates .* 2024-01-04"):
        to_series(doubled)


@pytest.mark.parametrize("bad", [0.0, -5.0, np.nan])
def test_non_positive_or_missing_values_are_rejected(bad):
    series = _series("2024-01-01", 10)
    series.iloc[4] = bad
    with pytest.raises(ValidationError, match="2024-01-05"):
        to_series(series)


def test_csv_problems_are_typed_errors(tmp_path):
    with pytest.raises(ValidationError, match="not found"):
        load_csv(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("day,count\n2024-01-01,5\n")
    with pytest.raises(ValidationError, match="lacks column"):
        load_csv(wrong)
    dup = tmp_path / "dup.csv"
    dup.write_text("date,passengers\n2024-01-01,5\n2024-01-01,6\n")
    with pytest.raises(ValidationError, match="duplicate"):
        load_csv(dup)
    bad = tmp_path / "bad.csv"
    bad.write_text("date,passengers\n2024-01-01,abc\n")
    with pytest.raises(ValidationError):
        load_csv(bad)


@pytest.mark.parametrize(
    ("mutate", "as_of", "message"),
    [
        (lambda s: s.drop(pd.Timestamp("2025-05-30")), dt.date(2025, 6, 2), "gap in the 14 days"),
        (lambda s: s[s.index >= pd.Timestamp("2024-06-01")], dt.date(2025, 6, 2), "days of history"),
        (lambda s: s[s.index < pd.Timestamp("2025-05-20")], dt.date(2025, 6, 2), "after the day following"),
    ],
)
def test_forecast_refuses_bad_input_before_fitting(shared_csv, mutate, as_of, message):
    series = mutate(load_csv(shared_csv))
    with pytest.raises(TsaBotError, match=message):
        forecast(series, as_of, calibration_weeks=8, workers=1)


def test_week_start_of_is_the_monday():
    assert week_start_of(dt.date(2025, 3, 9)) == dt.date(2025, 3, 3)  # a Sunday
    assert week_start_of(dt.date(2025, 3, 3)) == dt.date(2025, 3, 3)
