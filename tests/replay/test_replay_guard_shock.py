"""``guarded``'s disagreement guard on simulator weeks: it acts in the week it exists for (a shock the crowd
knows of and the model cannot), and stays quiet in an ordinary week.

The shock is a winter storm, as on 2026-01-19: the week's TSA numbers from Tuesday on are 0.88 of what
they were. The simulator's crowd sees the truth privately, so its market knows of the storm from the open;
the model is the real forecaster (Prophet, 8 calibration weeks) on the same numbers, point in time: it sees
the storm's days only as TSA publishes them. ``blend`` pools the model with the market at the default
weight and still leans against the crowd; ``guarded`` must cut that bet, and say so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import to_series
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows
from tsa_bot.kalshi_sim.history import shipped_truth
from tsa_bot.pricing.quotes import price_strikes
from tsa_bot.replay.commands import run_replay
from tsa_bot.replay.forecasts import Forecaster, known_days
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.decide import decide
from tsa_bot.trading.policies import market_view
from tsa_bot.trading.risk import ExposureState

pytestmark = pytest.mark.slow

MONDAY = dt.date(2025, 2, 3)  # an ordinary winter week (no holiday in it or the week before)
STORM = 0.88  # the storm's days, as a share of what they were


def _truth(storm: bool) -> dict[dt.date, int]:
    truth = dict(shipped_truth())
    if storm:
        for i in range(1, 7):  # Tuesday to Sunday
            day = MONDAY + dt.timedelta(days=i)
            truth[day] = round(truth[day] * STORM)
    return {d: v for d, v in truth.items() if d < MONDAY + dt.timedelta(days=7)}


def _series(truth: dict[dt.date, int]) -> pd.Series:
    return to_series(pd.Series([float(v) for v in truth.values()], index=pd.to_datetime(list(truth))))


@pytest.fixture(scope="module")
def weeks(tmp_path_factory):
    """Per week (storm, ordinary): the series, the quotes, and the replay of ``blend`` and ``guarded``."""
    cache = PointCache(tmp_path_factory.mktemp("forecasts"))
    out = {}
    for storm in (True, False):
        truth = _truth(storm)
        series = _series(truth)
        rows = history_quote_rows(HistorySeed(MONDAY, MONDAY, truth=truth, seed=2025))
        docs = {
            policy: run_replay(
                series,
                rows,
                MONDAY,
                MONDAY,
                config=replace(TradingConfig(), policy=policy),
                workers=1,
                calibration_weeks=8,
                cache=cache,
            )
            for policy in ("blend", "guarded")
        }
        out["storm" if storm else "ordinary"] = (series, rows, docs, cache)
    return out


def _contracts(doc: dict) -> Decimal:
    return sum((Decimal(str(t["count"])) for t in doc["trades"]), Decimal(0))


def test_the_storm_is_known_to_the_market_and_not_to_the_model(weeks):
    series, rows, _, cache = weeks["storm"]
    ordinary = _series(_truth(False))
    storm_mean = series[str(MONDAY) : str(MONDAY + dt.timedelta(days=6))].mean()
    usual_mean = ordinary[str(MONDAY) : str(MONDAY + dt.timedelta(days=6))].mean()
    assert storm_mean < 0.91 * usual_mean  # the week's mean falls by about 10%
    history = event_histories(rows, [MONDAY])[MONDAY]
    monday = history.moments()[0]
    forecast = Forecaster(series, calibration_weeks=8, workers=1, cache=cache).week(MONDAY).model[0]
    # Monday's close: the market already prices the storm's week; the model's median is the usual week.
    snapshot = history.snapshot(monday)
    market = market_view(
        price_strikes(forecast.strike_probabilities([b.strike for b in snapshot.books]), snapshot)
    )
    assert market.median < usual_mean - 150_000
    assert abs(forecast.quantile(0.5) - usual_mean) < 100_000


def test_guarded_cuts_the_bet_against_the_crowd_in_a_storm_week_and_loses_less(weeks):
    _, _, docs, _ = weeks["storm"]
    blend, guarded = docs["blend"], docs["guarded"]
    assert blend["trades"] and blend["summary"]["pnl"] < 0  # blend leans against the crowd, and loses
    assert _contracts(guarded) < _contracts(blend) / 2  # the guard refused most of it
    assert guarded["summary"]["pnl"] > blend["summary"]["pnl"]


def test_the_guards_reason_says_it_acted_and_on_which_numbers(weeks):
    series, rows, _, cache = weeks["storm"]
    history = event_histories(rows, [MONDAY])[MONDAY]
    forecasts = Forecaster(series, calibration_weeks=8, workers=1, cache=cache).week(MONDAY)
    moment = history.moments()[0]
    snapshot = history.snapshot(moment)
    k = known_days(series, MONDAY, moment.at)
    probs = forecasts.model[k].strike_probabilities([b.strike for b in snapshot.books])
    quotes = price_strikes(probs, snapshot)
    config = replace(TradingConfig(), policy="guarded")
    decisions = decide("guard-test", quotes, snapshot, ExposureState(bankroll=Decimal(1000)), config)
    priced = [d for d in decisions if d.fair_yes is not None]
    assert priced
    for d in priced:
        assert "guard acted" in d.reason, d.reason
        assert "market median" in d.reason and "model median" in d.reason and "model sd" in d.reason


def test_guarded_trades_as_blend_in_an_ordinary_week(weeks):
    _, _, docs, _ = weeks["ordinary"]
    blend, guarded = docs["blend"], docs["guarded"]
    assert blend["trades"]
    assert guarded["trades"] == blend["trades"]
    assert guarded["summary"]["pnl"] == blend["summary"]["pnl"]
