"""A new sizing policy is one function and one entry in ``trading.policies.POLICIES``, nothing else.

The test policy below is added to the table only (``monkeypatch.setitem``); the configuration accepts its
name, the DAG's trading tasks decide, place and reconcile by it (real Postgres, real HTTP to the simulator),
and the replay trades by it, each giving it what its entry says it needs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa
from trading_testkit import decide_with_daily_tasks, decision_rows, run_info

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import NEW_YORK, ONE, Direction, event_ticker_for_week
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.orchestration import daily
from tsa_bot.quotes.interchange import QuoteRow
from tsa_bot.replay.engine import MODEL, replay
from tsa_bot.replay.forecasts import WeekForecasts
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.policies import POLICIES, EventBook, Sizing, SizingPolicy, Want, policy_names

NAME = "one_yes"
PAPER = {"mode": "paper", "max_order_contracts": 15, "max_contracts_per_market": 100}
PROBS = {2_200_000: 0.90, 2_250_000: 0.70, 2_300_000: 0.50, 2_350_000: 0.30, 2_400_000: 0.15}


def one_yes(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """One more YES contract at the best ask of every market that has one; says what it was given."""
    market = "market read" if event.market is not None else f"market unread: {event.market_unread}"
    wants = {}
    for q in event.quotes:
        if q.yes_ask is None or q.fee_yes is None or q.fair_yes is None:
            continue
        wants[q.ticker] = Want(
            direction=Direction.YES,
            count=ONE,
            reason=f"test policy {sizing.policy}; weight {sizing.market_weight}; {market}",
            limit_price=q.yes_ask,
            fee=q.fee_yes,
            ev=q.fair_yes - q.yes_ask - q.fee_yes,
            target=event.state.held(q.ticker, Direction.YES) + ONE,
        )
    return wants


@pytest.fixture
def one_yes_policy(monkeypatch) -> None:
    monkeypatch.setitem(
        POLICIES,
        NAME,
        SizingPolicy(one_yes, learns_market_weight=True, needs_market_view=True),
    )


def test_the_configuration_takes_its_choices_from_the_table(one_yes_policy):
    assert NAME in policy_names()
    assert TradingConfig.from_params({"policy": "ONE_YES"}, env={}).policy == NAME
    assert TradingConfig.from_params({}, env={"TSABOT_POLICY": NAME}).policy == NAME
    with pytest.raises(ConfigurationError, match=f"param policy must be one of .*, {NAME}, not 'yolo'"):
        TradingConfig.from_params({"policy": "yolo"}, env={})


def test_an_unknown_policy_cannot_be_configured_even_directly():
    with pytest.raises(
        ConfigurationError, match="policy must be one of kelly, ladder, blend, guarded, recorded"
    ):
        TradingConfig(policy=NAME)


def test_the_dags_trading_tasks_trade_by_a_policy_added_to_the_table(
    one_yes_policy, worker_env, warehouse_engine: sa.Engine
):
    params = {**PAPER, "policy": NAME}
    decided = decide_with_daily_tasks(warehouse_engine, "pt-one-yes", params, PROBS)
    # The entry says it learns the market's weight: the decide step looked it up (none settled: default).
    assert decided["market_weight_source"] == "default"
    assert decided["buys"] == decided["decisions"] == 5
    rows = decision_rows(warehouse_engine, "pt-one-yes")
    assert {r["action"] for r in rows} == {"buy_yes"}
    assert all(r["reason"].startswith(f"test policy {NAME}; weight 0.5; market read") for r in rows)

    run = run_info("pt-one-yes", params)
    placed = daily.place_orders(run)
    assert placed["orders"] == 5 and placed["rejected"] == 0
    reconciled = daily.reconcile(run)
    assert reconciled["positions"] == 5


MONDAY = dt.date(2025, 3, 3)
EVENT = event_ticker_for_week(MONDAY)
STRIKES = (2_300_000, 2_400_000, 2_500_000)


class _Fixed:
    """A forecast whose mass sits at one mean, whatever is known."""

    def __init__(self) -> None:
        days = pd.date_range("2025-02-01", "2025-03-09", freq="D")
        self.series = pd.Series(2_450_000.0, index=days)

    def week(self, monday: dt.date) -> WeekForecasts:
        at = {k: WeekForecast(monday, monday, k, "fixed", (2_450_000.0,)) for k in range(5)}
        return WeekForecasts(at, at)


def test_the_replay_trades_by_a_policy_added_to_the_table(one_yes_policy):
    close = dt.datetime.combine(MONDAY + dt.timedelta(days=1), dt.time(0), NEW_YORK).astimezone(dt.UTC)
    rows = [
        QuoteRow(EVENT, f"{EVENT}-T{k}", k, close, Decimal(bid), Decimal(ask), None, None, None, "")
        for k, bid, ask in zip(STRIKES, ("0.80", "0.50", "0.20"), ("0.84", "0.54", "0.24"), strict=True)
    ]
    histories = event_histories(rows, [MONDAY])
    out = replay(histories, [MONDAY], _Fixed(), TradingConfig(policy=NAME), source=MODEL)  # type: ignore[arg-type]
    assert out.policy == NAME
    assert [(t.ticker, t.direction, t.count) for t in out.trades] == [
        (f"{EVENT}-T{k}", Direction.YES, ONE) for k in STRIKES
    ]
    assert sum(w["trades"] for w in out.weeks) == 3
