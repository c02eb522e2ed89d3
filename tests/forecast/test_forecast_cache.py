"""The week-points cache: a hit returns exactly what refitting would, and any changed row is a miss."""

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from tsa_bot.forecast import forecaster
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.model import DEFAULT_PARAMS

AS_OF = dt.date(2025, 6, 12)  # a Thursday: three days of its week known
WEEK = dt.date(2025, 6, 9)
ONE_FIT = replace(DEFAULT_PARAMS, changepoint_prior_scales=(0.05,))  # one Prophet fit per week, for speed


@pytest.fixture(scope="module")
def series(shared_csv):
    full = load_csv(shared_csv)
    return full[full.index < pd.Timestamp(AS_OF)]


@pytest.fixture
def fitted_weeks(monkeypatch):
    """Record the Monday of every week that really gets a Prophet fit (inline, no worker processes)."""
    weeks: list[dt.date] = []
    real_fit = forecaster.fit_week

    def counting_fit(history, week_start, params):
        weeks.append(week_start)
        return real_fit(history, week_start, params)

    monkeypatch.setattr(forecaster, "fit_week", counting_fit)
    return weeks


def _forecast(series, cache):
    return forecaster.forecast(series, AS_OF, ONE_FIT, calibration_weeks=8, workers=1, cache=cache)


@pytest.mark.slow
def test_a_second_forecast_reads_the_weeks_back_and_matches_a_fresh_one(series, tmp_path, fitted_weeks):
    cache = PointCache(tmp_path / "cache")
    first = _forecast(series, cache)
    assert len(fitted_weeks) == 9  # the week itself and the 8 calibration weeks
    assert len(list((tmp_path / "cache").glob("*.json"))) == 9
    assert not list((tmp_path / "cache").glob(".tmp-*"))

    fitted_weeks.clear()
    again = _forecast(series, cache)
    assert fitted_weeks == []
    assert again == first
    assert _forecast(series, None) == first  # and it is what no cache at all gives


@pytest.mark.slow
def test_the_same_rows_are_one_entry_whatever_the_resolution_of_their_dates(series, tmp_path, fitted_weeks):
    """A CSV's dates load in microseconds, the warehouse's (the daily forecast, the replay DAG) in seconds:
    the same rows must hit the same entries, or the DAG runs and `tsabot replay` never share a fit."""
    assert str(series.index.dtype) == "datetime64[us]"
    cache = PointCache(tmp_path / "cache")
    first = _forecast(series, cache)
    fitted_weeks.clear()
    in_seconds = pd.Series(series.to_numpy(), index=series.index.as_unit("s"), name=series.name)
    assert _forecast(in_seconds, cache) == first
    assert fitted_weeks == []


@pytest.mark.slow
def test_a_changed_row_refits_exactly_the_weeks_that_could_see_it(series, tmp_path, fitted_weeks):
    cache = PointCache(tmp_path / "cache")
    _forecast(series, cache)

    # A late fix to the Tuesday of the week before: that week and this one saw it, earlier weeks did not.
    revised = series.copy()
    revised[pd.Timestamp(WEEK - dt.timedelta(days=6))] *= 1.01
    fitted_weeks.clear()
    changed = _forecast(revised, cache)
    assert sorted(fitted_weeks) == [WEEK - dt.timedelta(weeks=1), WEEK]
    assert changed == _forecast(revised, None)

    # The newest known day belongs to this week's forecast only.
    newest = revised.copy()
    newest.iloc[-1] *= 0.99
    fitted_weeks.clear()
    _forecast(newest, cache)
    assert fitted_weeks == [WEEK]


@pytest.mark.slow
def test_an_unreadable_entry_is_recomputed_not_trusted(series, tmp_path, fitted_weeks, caplog):
    cache = PointCache(tmp_path / "cache")
    first = _forecast(series, cache)
    newest_entry = max((tmp_path / "cache").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    newest_entry.write_text('[{"week_start": "2025-06-')  # a write cut short by a crash, say
    fitted_weeks.clear()
    assert _forecast(series, cache) == first
    assert len(fitted_weeks) == 1
    assert "unreadable forecast cache entry" in caplog.text
