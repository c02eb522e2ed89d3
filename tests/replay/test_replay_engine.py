"""The replay's pieces without Prophet: moments, snapshots, settlement, the paper book, and policy dispatch.

The loop tests stand a fixed forecast in for the Prophet forecaster (``FixedForecaster``); everything else
is the real code: pricing, decide, risk, the paper broker and settlement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import NEW_YORK, Level, OrderBook, event_ticker_for_week
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, price_strikes
from tsa_bot.quotes.interchange import QuoteRow
from tsa_bot.replay.engine import BASELINE, MODEL, NOTHING, replay
from tsa_bot.replay.forecasts import WeekForecasts, known_days
from tsa_bot.replay.market import DEPTH, event_histories, settle_result
from tsa_bot.replay.report import document, max_drawdown
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.decide import decide
from tsa_bot.trading.policies import samples_from_probabilities
from tsa_bot.trading.risk import ExposureState

MONDAY = dt.date(2025, 3, 3)
EVENT = event_ticker_for_week(MONDAY)
STRIKES = (2_300_000, 2_400_000, 2_500_000)


def _row(strike: int, end: dt.datetime, bid: str | None, ask: str | None, result: str = "") -> QuoteRow:
    return QuoteRow(
        EVENT,
        f"{EVENT}-T{strike}",
        strike,
        end,
        Decimal(bid) if bid else None,
        Decimal(ask) if ask else None,
        None,
        None,
        None,
        result,
    )


def _close(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), NEW_YORK).astimezone(dt.UTC)


def _series(week_mean: float) -> pd.Series:
    days = pd.date_range("2025-02-01", "2025-03-09", freq="D")
    values = np.full(len(days), 2_000_000.0)
    values[-7:] = week_mean  # the week of MONDAY
    return pd.Series(values, index=days)


class FixedForecaster:
    """A forecast of the week's mean that puts all its mass at ``mean`` whatever is known."""

    def __init__(self, series: pd.Series, model_mean: float, baseline_mean: float) -> None:
        self.series = series
        self.means = {MODEL: model_mean, BASELINE: baseline_mean}

    def week(self, monday: dt.date) -> WeekForecasts:
        def at(mean: float) -> dict[int, WeekForecast]:
            return {k: WeekForecast(monday, monday, k, "fixed", (mean,)) for k in range(5)}

        return WeekForecasts(at(self.means[MODEL]), at(self.means[BASELINE]))


def test_moment_is_the_first_candle_ending_at_or_after_0930_new_york_and_before_the_next_days_run():
    hourly = [
        dt.datetime(2025, 3, 3, 9, 0, tzinfo=NEW_YORK),
        dt.datetime(2025, 3, 3, 10, 0, tzinfo=NEW_YORK),  # Monday's moment
        dt.datetime(2025, 3, 3, 11, 0, tzinfo=NEW_YORK),
        dt.datetime(2025, 3, 5, 9, 30, tzinfo=NEW_YORK),  # Wednesday's, exactly at the run time
        dt.datetime(2025, 3, 7, 9, 29, tzinfo=NEW_YORK),  # Thursday's (before Friday's run): Friday has none
    ]
    rows = [_row(2_400_000, end.astimezone(dt.UTC), "0.40", "0.45") for end in hourly]
    history = event_histories(rows, [MONDAY])[MONDAY]
    moments = [(m.day, m.at) for m in history.moments()]
    assert moments == [
        (dt.date(2025, 3, 3), hourly[1]),
        # Tuesday: the next candle ends at Wednesday's run time, so it is Wednesday's, not Tuesday's.
        (dt.date(2025, 3, 5), hourly[3]),
        (dt.date(2025, 3, 6), hourly[4]),
    ]


def test_moment_of_daily_candles_is_the_days_close_and_the_snapshot_holds_that_candle_only():
    rows = [
        _row(2_400_000, _close(MONDAY), "0.40", "0.45"),
        _row(2_500_000, _close(MONDAY), None, "0.05"),
        _row(2_400_000, _close(MONDAY + dt.timedelta(days=1)), "0.60", "0.65"),
    ]
    history = event_histories(rows, [MONDAY])[MONDAY]
    monday = history.moments()[0]
    assert monday.at == _close(MONDAY)
    books = {b.strike: b for b in history.snapshot(monday).books}
    assert books[2_400_000].yes_asks == (Level(Decimal("0.45"), DEPTH),)
    assert books[2_400_000].no_asks == (Level(Decimal("0.60"), DEPTH),)
    assert books[2_500_000].no_asks == ()  # no YES bid: nobody sells NO


def test_known_days_follow_the_publication_schedule():
    series = _series(2_400_000.0)
    at = dict(zip(range(7), [_close(MONDAY + dt.timedelta(days=i)) for i in range(7)], strict=True))
    assert [known_days(series, MONDAY, at[i]) for i in range(7)] == [0, 1, 2, 3, 4, 4, 4]
    early = dt.datetime(2025, 3, 4, 8, 59, tzinfo=NEW_YORK)  # Monday's number comes out at 09:00
    assert known_days(series, MONDAY, early) == 0
    assert known_days(series[series.index < "2025-03-05"], MONDAY, at[6]) == 2  # not in the data


def test_settlement_takes_the_result_first_else_the_tsa_mean_with_strict_greater():
    rows = [
        _row(2_300_000, _close(MONDAY), "0.40", "0.45", result="no"),  # Kalshi says NO, TSA would say YES
        _row(2_400_000, _close(MONDAY), "0.40", "0.45"),
        _row(2_500_000, _close(MONDAY), "0.40", "0.45"),
    ]
    history = event_histories(rows, [MONDAY])[MONDAY]
    assert settle_result(history, f"{EVENT}-T2300000", 2_400_000.0) == "no"
    assert settle_result(history, f"{EVENT}-T2400000", 2_400_000.0) == "no"  # exactly on it: not above
    assert settle_result(history, f"{EVENT}-T2400000", 2_400_000.5) == "yes"
    assert settle_result(history, f"{EVENT}-T2500000", None) == ""  # week incomplete: open


def test_the_loop_settles_positions_through_the_week_and_sizes_target_minus_held():
    # The model is sure the mean is 2.45 M; the TSA week is exactly 2.4 M, so YES above 2.4 M loses.
    rows = []
    for i in range(7):
        end = _close(MONDAY + dt.timedelta(days=i))
        rows += [_row(s, end, "0.30", "0.35") for s in STRIKES]
    histories = event_histories(rows, [MONDAY])
    forecaster = FixedForecaster(_series(2_400_000.0), 2_450_000.0, 2_000_000.0)
    out = replay(histories, [MONDAY], forecaster, TradingConfig(), source=MODEL)
    bought = {(t.ticker, t.direction) for t in out.trades}
    assert bought == {(f"{EVENT}-T2300000", "yes"), (f"{EVENT}-T2400000", "yes"), (f"{EVENT}-T2500000", "no")}
    yes24 = [t for t in out.trades if t.ticker == f"{EVENT}-T2400000"]
    assert all(t.result == "no" and t.pnl == -(t.count * t.price + t.fee) for t in yes24)
    # Positions carry: later days only top up to the target, never re-buy it, within the market limit.
    per_market = {}
    for t in out.trades:
        per_market[t.ticker] = per_market.get(t.ticker, 0) + t.count
    assert all(n <= TradingConfig().limits.max_contracts_per_market for n in per_market.values())
    assert out.weeks[0]["pnl"] == sum(t.pnl for t in out.trades)
    assert out.equity[-1][1] == out.weeks[0]["pnl"]

    baseline = replay(histories, [MONDAY], forecaster, TradingConfig(), source=BASELINE)
    assert {(t.ticker, t.direction) for t in baseline.trades} == {(f"{EVENT}-T{s}", "no") for s in STRIKES}
    nothing = replay(histories, [MONDAY], forecaster, TradingConfig(), source=NOTHING)
    assert nothing.trades == [] and nothing.weeks[0]["pnl"] == 0 and nothing.scores == []


def test_each_score_keeps_the_probability_the_policy_traded_on():
    # kelly trades on the model; blend on the model pooled with the market, here at the default weight
    # (no settled week to learn from), and the report scores that pool beside the model and the market.
    rows = [_row(s, _close(MONDAY + dt.timedelta(days=i)), "0.30", "0.35") for i in range(7) for s in STRIKES]
    histories = event_histories(rows, [MONDAY])
    forecaster = FixedForecaster(_series(2_400_000.0), 2_450_000.0, 2_000_000.0)
    kelly = replay(histories, [MONDAY], forecaster, TradingConfig(), source=MODEL)
    assert kelly.scores and all(s.pool == s.model for s in kelly.scores)
    blend = replay(histories, [MONDAY], forecaster, TradingConfig(policy="blend"), source=MODEL)
    assert [(s.moment, s.strike) for s in blend.scores] == [(s.moment, s.strike) for s in kelly.scores]
    for s in blend.scores:
        assert s.pool == pytest.approx(0.5 * s.model + 0.5 * 0.325)  # the monotone market: every mid 0.325
    summary = document(blend, [])["summary"]
    assert summary["brier_model"] != summary["brier_pool"]
    assert set(summary["by_day"]["Wed"]) >= {"brier_model", "brier_pool", "brier_market"}


def test_the_json_has_the_design_docs_fields():
    rows = [_row(s, _close(MONDAY), "0.30", "0.35") for s in STRIKES]
    forecaster = FixedForecaster(_series(2_400_000.0), 2_450_000.0, 2_000_000.0)
    histories = event_histories(rows, [MONDAY])
    outcomes = [
        replay(histories, [MONDAY], forecaster, TradingConfig(), source=s) for s in (MODEL, BASELINE, NOTHING)
    ]
    doc = document(outcomes[0], outcomes[1:])
    figures = {
        "pnl",
        "fees",
        "trades",
        "contracts",
        "max_drawdown",
        "brier_model",
        "brier_market",
        "brier_pool",
        "strikes_scored",
        "cents_per_contract",
        "weeks_traded",
        "weeks_won",
        "pnl_ci90",
        "vs_baseline_ci90",
    }
    trade_keys = {"moment", "ticker", "side", "count", "price", "fee", "result", "pnl", "liquidity"}
    assert set(doc["trades"][0]) == trade_keys and doc["trades"][0]["liquidity"] == "taker"
    assert set(doc["weeks"][0]) == {"event_ticker", "pnl", "trades"}
    execution = {"execution", "fill_rate", "adverse_selection"}
    assert set(doc["summary"]) == figures | execution | {"by_day"}
    assert list(doc["summary"]["by_day"]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert all(set(day) == figures for day in doc["summary"]["by_day"].values())
    assert set(doc["beside"]) == {"yoy_baseline", "nothing"}
    assert all(set(b) == figures | execution | {"by_day"} for b in doc["beside"].values())
    assert "fills" in doc["assumptions"] and "depth" in doc["assumptions"]
    assert doc["summary"]["strikes_scored"] == 3
    # The market is scored on the mid of bid and ask, 0.325, on strikes settled YES, NO, NO (mean 2.4 M).
    assert doc["summary"]["brier_market"] == pytest.approx((0.675**2 + 2 * 0.325**2) / 3, abs=1e-6)


def test_max_drawdown_counts_from_the_start_as_a_peak():
    assert max_drawdown([Decimal(-5), Decimal(10), Decimal(-3), Decimal(-4), Decimal(2)]) == Decimal(7)
    assert max_drawdown([]) == 0


# ---- policy dispatch -----------------------------------------------------------------------------------


def _snapshot(asks: dict[int, str]) -> MarketSnapshot:
    books = []
    for strike, ask in asks.items():
        yes_ask = Decimal(ask)
        bid = yes_ask - Decimal("0.04")
        books.append(
            OrderBook(
                ticker=f"{EVENT}-T{strike}",
                yes_bids=(Level(bid, Decimal(50)),),
                no_bids=(Level(1 - yes_ask, Decimal(50)),),
                strike=strike,
            )
        )
    return MarketSnapshot(EVENT, FeeSchedule(), tuple(books))


def _decide(policy: str, probs: dict[int, float], snapshot: MarketSnapshot, **config):
    state = ExposureState(bankroll=Decimal(1000))
    cfg = replace(TradingConfig(), policy=policy, **config)
    return decide("run-1", price_strikes(probs, snapshot), snapshot, state, cfg)


def test_policy_kelly_is_todays_per_strike_sizing_and_ladder_sizes_the_event_as_one_bet():
    snapshot = _snapshot({2_300_000: "0.50", 2_400_000: "0.30", 2_500_000: "0.10"})
    probs = {2_300_000: 0.8, 2_400_000: 0.5, 2_500_000: 0.15}
    kelly = _decide("kelly", probs, snapshot)
    assert any(d.action != "none" for d in kelly)
    assert all("Kelly target" in d.reason for d in kelly if d.action != "none")
    ladder = _decide("ladder", probs, snapshot)
    assert any(d.action == "buy_yes" for d in ladder)
    assert all(d.reason.startswith("joint ladder bet") and "policy ladder" in d.reason for d in ladder)


def test_policy_guarded_skips_when_the_market_sits_far_outside_the_models_range_and_says_so():
    # The market prices the mean near 2.5 M; the model is sure of 2.3-2.4 M.
    snapshot = _snapshot({2_300_000: "0.97", 2_400_000: "0.93", 2_500_000: "0.50"})
    probs = {2_300_000: 0.9, 2_400_000: 0.02, 2_500_000: 0.0}
    blend = _decide("blend", probs, snapshot, market_weight=Decimal("0.1"))
    guarded = _decide("guarded", probs, snapshot, market_weight=Decimal("0.1"))
    assert any(d.action != "none" for d in blend)
    assert all(d.action == "none" for d in guarded)
    assert all("skipping" in d.reason and "market median" in d.reason for d in guarded)


def test_policy_blend_with_full_market_weight_finds_no_edge_in_a_fair_market():
    snapshot = _snapshot({2_300_000: "0.52", 2_400_000: "0.32", 2_500_000: "0.12"})
    probs = {2_300_000: 0.95, 2_400_000: 0.8, 2_500_000: 0.5}
    assert any(d.action != "none" for d in _decide("ladder", probs, snapshot))
    assert all(d.action == "none" for d in _decide("blend", probs, snapshot, market_weight=Decimal(1)))


def test_policy_is_read_from_params_and_the_environment_and_refused_when_unknown():
    assert TradingConfig().policy == "kelly"
    assert TradingConfig.from_params({"policy": "ladder"}, env={}).policy == "ladder"
    assert TradingConfig.from_params({}, env={"TSABOT_POLICY": "guarded"}).policy == "guarded"
    assert TradingConfig.from_params({"market_weight": "0.3"}, env={}).market_weight == Decimal("0.3")
    with pytest.raises(
        ConfigurationError, match="param policy must be one of kelly, ladder, blend, guarded, recorded"
    ):
        TradingConfig.from_params({"policy": "yolo"}, env={})
    with pytest.raises(ConfigurationError, match="market_weight"):
        TradingConfig.from_params({"market_weight": "1.5"}, env={})


def test_samples_from_probabilities_carry_each_intervals_probability():
    probs = {2_300_000: 0.8, 2_400_000: 0.35, 2_500_000: 0.1}
    samples = samples_from_probabilities(probs, n=1000)
    assert len(samples) == 1000
    for strike, p in probs.items():
        assert np.mean(samples > strike) == pytest.approx(p, abs=1e-3)
