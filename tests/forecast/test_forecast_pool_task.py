"""The daily forecast task with ``TSABOT_FORECAST_POOL``: the pool it saves is the one made from the CSV
cut at the run's morning (real warehouse, real fits)."""

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from tsa_bot.core.config import get_settings
from tsa_bot.core.market import NEW_YORK
from tsa_bot.forecast import pool
from tsa_bot.forecast.cache import default_cache
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.store import load_strike_probabilities
from tsa_bot.orchestration import daily
from tsa_bot.sources.ingest import fetch_tsa, load_tsa
from tsa_bot.warehouse.engine import get_engine


@pytest.mark.slow
def test_the_forecast_task_saves_the_pool_when_the_setting_asks(
    tsa_env, warehouse_url, monkeypatch, shared_csv
):
    load_tsa(fetch_tsa(offline=True)["page_ids"], run_key="history")
    monkeypatch.setenv("TSABOT_FORECAST_POOL", "log")
    get_settings.cache_clear()
    # Thursday 2025-06-05 09:30: Monday to Wednesday are published (each the next morning).
    run = daily.RunInfo(
        "pool-run",
        datetime(2025, 6, 5, 9, 30, tzinfo=NEW_YORK),
        backfill=True,
        params={"calibration_weeks": 8},
    )
    saved = daily.forecast(run, warehouse_url)

    series = load_csv(shared_csv)
    direct = pool.forecast(
        series[series.index < pd.Timestamp("2025-06-05")],
        date(2025, 6, 5),
        "log",
        calibration_weeks=8,
        cache=default_cache(),
    )
    assert saved["model_version"] == "prophet-yoy-pool-v1-log" == direct.forecast.model_version
    assert saved["pool_weight"] == direct.choice.weight
    assert direct.choice.source == "learned"
    assert (saved["week_start"], saved["known_days"]) == ("2025-06-02", 3)
    assert saved["mean"] == round(direct.forecast.mean)
    with get_engine(warehouse_url).connect() as conn:
        stored = conn.execute(
            sa.text("select baseline_weight from forecasts where id = :id"), {"id": saved["forecast_id"]}
        ).scalar_one()
    assert stored == direct.choice.weight  # the page reads the pool's weights from here
    probabilities = load_strike_probabilities(get_engine(warehouse_url), saved["forecast_id"])
    assert probabilities == pytest.approx(direct.forecast.strike_probabilities())
