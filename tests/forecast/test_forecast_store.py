import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from tsa_bot.forecast.distribution import STRIKES, build_forecast
from tsa_bot.forecast.store import ForecastNotFound, load_forecast, load_strike_probabilities, save_forecast

MONDAY = dt.date(2025, 6, 2)


def _forecast(known_days=2, version="prophet-test"):
    errors = np.linspace(-0.03, 0.03, 25)
    return build_forecast(MONDAY, known_days, version, 4_800_000, 12_000_000, errors, 0.005)


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()


def test_save_and_load_round_trip(warehouse_engine):
    original = _forecast()
    forecast_id = save_forecast(warehouse_engine, original, run_key="manual__2025-06-04")
    loaded = load_forecast(warehouse_engine, forecast_id)
    assert loaded == original
    probs = load_strike_probabilities(warehouse_engine, forecast_id)
    assert list(probs) == list(STRIKES)
    assert probs == pytest.approx(original.strike_probabilities())
    with warehouse_engine.connect() as conn:
        query = sa.text("select as_of, known_days, mean, quantiles from forecasts where id = :i")
        row = conn.execute(query, {"i": forecast_id}).one()
    assert row.as_of == dt.date(2025, 6, 4)
    assert row.known_days == 2
    assert row.mean == pytest.approx(original.mean)
    assert row.quantiles["0.10"] == pytest.approx(original.quantile(0.1))
    assert row.quantiles["0.90"] == pytest.approx(original.quantile(0.9))


def test_saving_again_returns_the_same_id_without_duplicates(warehouse_engine):
    first = save_forecast(warehouse_engine, _forecast(), run_key="scheduled__2025-06-04")
    again = save_forecast(warehouse_engine, _forecast(), run_key="scheduled__2025-06-04")
    assert again == first
    assert _count(warehouse_engine, "forecasts") == 1
    assert _count(warehouse_engine, "forecast_strike_probs") == len(STRIKES)
    # Another run, as_of or model version is another forecast.
    other_run = save_forecast(warehouse_engine, _forecast(), run_key="scheduled__2025-06-05")
    other_day = save_forecast(warehouse_engine, _forecast(known_days=3), run_key="scheduled__2025-06-04")
    other_model = save_forecast(warehouse_engine, _forecast(version="v2"), run_key="scheduled__2025-06-04")
    assert len({first, other_run, other_day, other_model}) == 4
    assert _count(warehouse_engine, "forecasts") == 4


def test_loading_an_unknown_id_is_a_typed_error(warehouse_engine):
    with pytest.raises(ForecastNotFound, match="no forecast with id 999"):
        load_forecast(warehouse_engine, 999)
    with pytest.raises(ForecastNotFound):
        load_strike_probabilities(warehouse_engine, 999)


def test_schema_rejects_inconsistent_rows(warehouse_engine):
    with pytest.raises(sa.exc.IntegrityError), warehouse_engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into forecasts (run_key, week_start, as_of, known_days, model_version, mean,"
                " quantiles, samples) values ('r', '2025-06-02', '2025-06-05', 2, 'v', 1, '{}', '{1}')"
            )
        )


@pytest.mark.slow
def test_forecast_to_warehouse_saves_once_per_run(warehouse_engine, shared_csv):
    from tsa_bot.forecast.cache import default_cache
    from tsa_bot.forecast.data import load_csv
    from tsa_bot.forecast.store import forecast_to_warehouse

    series = load_csv(shared_csv)
    as_of = dt.date(2025, 6, 4)
    run = "scheduled__2025-06-04"
    # Through the run's forecast cache, as the daily task forecasts: the retry reads the weeks back.
    cache = default_cache()
    first = forecast_to_warehouse(warehouse_engine, series, as_of, run, calibration_weeks=8, cache=cache)
    retry = forecast_to_warehouse(warehouse_engine, series, as_of, run, calibration_weeks=8, cache=cache)
    assert retry == first
    saved = load_forecast(warehouse_engine, first)
    assert (saved.week_start, saved.as_of, saved.known_days) == (MONDAY, as_of, 2)
    assert _count(warehouse_engine, "forecasts") == 1
