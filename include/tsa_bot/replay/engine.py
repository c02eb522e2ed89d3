"""The replay: the live strategy's own steps, moment by moment, over quote history, on a paper book.

At each moment it does what the DAG's trading steps do, with the same functions: quote every strike
(``pricing.quotes.price_strikes``), read the paper book's holdings and cash (``trading.brokers.PaperBroker``,
positions carried through the week), decide by the configured policy with target-minus-held sizing and the
size limits (``trading.decide.decide``), check every order against the risk limits
(``trading.risk.check_order``), fill it against the candle (``PaperBroker.place``: the ask, or 1 − bid for
NO, the taker fee), and settle each market as ``trading.book.position_pnl`` does. What the DAG keeps in
the warehouse (fills, settled markets, realised P&L) the replay keeps in memory.

With ``execution=maker`` the decide step is the same and only the way to the holding changes: each order
rests at or inside the bid until the next moment and fills only where a later candle traded through it
(``replay.execution``); what the next moment sees held is what filled.

A policy that learns the market's weight (``blend``, ``guarded``, ``recorded``) weighs it by
``market_implied.learn_weight`` at the moment's known-days count, over the replay's own earlier weeks scored
and settled before the moment (the default weight until enough have settled), as the live decide step does
from the warehouse. Each score keeps the probability the policy traded on (``pool``) beside the model's and
the market's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tsa_bot.core.market import ZERO, BookSide, Direction, on_yes_book
from tsa_bot.core.publication import known_days_at, publication_time
from tsa_bot.pricing.execution import Execution, maker_price
from tsa_bot.pricing.fees import trade_fee
from tsa_bot.pricing.market_implied import (
    LadderQuote,
    MarketViewError,
    ScoredWeek,
    combine,
    learn_weight,
    scored_market_probabilities,
)
from tsa_bot.pricing.quotes import price_strikes
from tsa_bot.pricing.record import EdgeRecord, edge_record
from tsa_bot.replay.execution import PostedOrder, fills
from tsa_bot.replay.forecasts import Forecaster, known_days
from tsa_bot.replay.market import FEES, EventHistory, Moment, settle_result, weekly_mean
from tsa_bot.trading.book import position_pnl
from tsa_bot.trading.brokers import PaperBroker
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.decide import decide
from tsa_bot.trading.policies import POLICIES
from tsa_bot.trading.risk import ExposureState, RestingOrder, check_order

MODEL, BASELINE, NOTHING = "model", "yoy_baseline", "nothing"
SUNDAY = timedelta(days=6)


@dataclass(frozen=True)
class Trade:
    moment: datetime
    day: date
    event_ticker: str
    ticker: str
    direction: Direction
    count: Decimal
    price: Decimal  # of the direction bought, per contract
    fee: Decimal  # the whole trade's
    result: str = ""  # yes | no | '' while open
    pnl: Decimal | None = None
    liquidity: str = "taker"  # taker | maker
    posted: datetime | None = None  # a maker trade: its order was posted then (``moment``: the fill's candle)
    mid_after: Decimal | None = None  # a maker fill: the market's mid (YES) one moment after the fill


@dataclass(frozen=True)
class Score:
    """One quoted strike at one moment: the forecast's and the market's P(YES), and how it settled."""

    moment: datetime
    day: date
    event_ticker: str
    strike: int
    model: float
    market: float
    outcome: bool
    # The probability the policy traded on: the model pooled with the market at the policy's learned
    # weight (``blend``, ``guarded``, ``recorded``); the model's own for the others.
    pool: float


@dataclass
class ReplayRun:
    """One replay: its trades (settled where known), scores, each week's P&L, and the equity by week.

    ``scored``: every moment's model and market probabilities, as ``blend`` learns from them (whatever
    the source; ``nothing`` computes them too): what ``replay.scores`` stores in the warehouse.
    """

    source: str
    policy: str
    trades: list[Trade] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    weeks: list[dict[str, Any]] = field(default_factory=list)
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    scored: list[ScoredWeek] = field(default_factory=list)
    execution: str = Execution.TAKER.value
    posted_contracts: Decimal = ZERO  # maker: every contract posted (filled or not)


def _fill_row(
    ticker: str, book_side: str, count: Decimal, yes_price: Decimal, fee: Decimal
) -> dict[str, Any]:
    return {"ticker": ticker, "book_side": book_side, "count": count, "yes_price": yes_price, "fee": fee}


def _market_probs(quotes: Sequence[Any]) -> dict[int, float]:
    try:
        return scored_market_probabilities([LadderQuote(q.strike, q.yes_bid, q.yes_ask) for q in quotes])
    except MarketViewError:
        return {}


class PaperBook:
    """The paper account across the replay: fills, settled markets, realised P&L (the warehouse's part)."""

    def __init__(self, bankroll: Decimal) -> None:
        self.start = bankroll
        self.fills: list[dict[str, Any]] = []
        self.settled: set[str] = set()
        self.realised = ZERO
        self.realised_on: dict[date, Decimal] = {}

    def settle(self, ticker: str, result: str, when: datetime) -> Decimal:
        pnl = position_pnl([f for f in self.fills if f["ticker"] == ticker], result)["pnl"]
        self.settled.add(ticker)
        self.realised += pnl
        day = when.date()
        self.realised_on[day] = self.realised_on.get(day, ZERO) + pnl
        return pnl


def replay(
    histories: Mapping[date, EventHistory],
    weeks: Sequence[date],
    forecaster: Forecaster,
    config: TradingConfig,
    *,
    source: str = MODEL,
    execution: Execution = Execution.TAKER,
) -> ReplayRun:
    """Trade every moment of every week with ``source``'s probabilities (``nothing``: never trade)."""
    out = ReplayRun(source, config.policy, execution=execution.value)
    book = PaperBook(config.paper_bankroll)
    learned: list[ScoredWeek] = []
    weights: dict[tuple[int, int], Decimal] = {}
    equity = ZERO
    for monday in weeks:
        history = histories.get(monday)
        if history is None:
            out.skipped.append({"week": monday.isoformat(), "reason": "no quotes for the week's event"})
            continue
        forecasts = forecaster.week(monday)
        if forecasts.reason:
            out.skipped.append({"week": monday.isoformat(), "reason": forecasts.reason})
        mean = weekly_mean(forecaster.series, monday)
        week_trades: list[Trade] = []
        week_scores: list[ScoredWeek] = []
        settled_at = publication_time(monday + SUNDAY)  # the week's last number is out: it settles
        resting: list[PostedOrder] = []
        for moment in history.moments():
            # What rested since the last moment filled (or not) by now; the rest is cancelled.
            week_trades += _maker_fills(history, resting, moment.at, book)
            resting = []
            k = known_days(forecaster.series, monday, moment.at)
            found = (forecasts.baseline if source == BASELINE else forecasts.model).get(k)
            if found is None:
                continue
            snapshot = history.snapshot(moment)
            strikes = [b.strike for b in snapshot.books]
            quotes = price_strikes(found.strike_probabilities(strikes), snapshot)
            market = _market_probs(quotes)
            model = {q.strike: float(q.fair_yes) for q in quotes if q.fair_yes is not None}
            results = {q.strike: settle_result(history, q.ticker, mean) for q in quotes}
            weight, record = ZERO, None
            if source != NOTHING and POLICIES[config.policy].learns_market_weight:
                at = known_days_at(monday, moment.at)
                weight = _learned_weight(learned, moment.at, at, weights)
                config = replace(config, market_weight=weight)
                if POLICIES[config.policy].needs_record:
                    record = edge_record(learned, moment.at, at, float(weight))
            # What the policy traded on: the linear pool at its weight (the model alone without a market).
            traded = (
                combine({s: p for s, p in model.items() if s in market}, market, float(weight))
                if market
                else {}
            )
            for q in quotes:  # the same strikes, at the same moments, for the forecast and the market
                result = results[q.strike]
                if (
                    source != NOTHING
                    and result
                    and q.fair_yes is not None
                    and q.yes_bid is not None
                    and q.yes_ask is not None
                ):
                    mid = float((q.yes_bid + q.yes_ask) / 2)
                    pool = traded.get(q.strike, float(q.fair_yes))
                    out.scores.append(
                        Score(
                            moment.at,
                            moment.day,
                            history.event_ticker,
                            q.strike,
                            float(q.fair_yes),
                            mid,
                            result == "yes",
                            pool,
                        )
                    )
            known = {k2: r == "yes" for k2, r in results.items() if r}
            week_scores.append(ScoredWeek(history.event_ticker, moment.at, settled_at, model, market, known))
            if source == NOTHING:
                continue
            week_trades += _trade(
                history, moment, snapshot, quotes, book, config, out, execution, resting, record
            )
        # After the last moment the orders rest until their market's close; what is left then is dropped.
        week_trades += _maker_fills(history, resting, None, book)
        learned += week_scores
        out.scored += week_scores
        # Settlement: each market the book holds in this event, once its result is known.
        pnl_week = ZERO
        settled_trades = []
        for t in week_trades:
            result = settle_result(history, t.ticker, mean)
            pnl = None
            if result:
                book_side, yes_price = on_yes_book(t.direction, t.price)
                pnl = position_pnl([_fill_row(t.ticker, book_side, t.count, yes_price, t.fee)], result)["pnl"]
            settled_trades.append(replace(t, result=result, pnl=pnl))
        for ticker in sorted({t.ticker for t in week_trades}):
            result = settle_result(history, ticker, mean)
            if result:
                pnl_week += book.settle(ticker, result, settled_at)
        out.trades += settled_trades
        equity += pnl_week
        out.weeks.append(
            {
                "event_ticker": history.event_ticker,
                "pnl": pnl_week,
                "trades": len(week_trades),
                "monday": monday,
            }
        )
        out.equity.append((settled_at, equity))
    return out


def _learned_weight(
    learned: Sequence[ScoredWeek], moment: datetime, known_days: int, memo: dict[tuple[int, int], Decimal]
) -> Decimal:
    """``learn_weight`` at the moment and known-days count. The weeks known by then are a prefix of
    ``learned`` (weeks settle in order), so the weight is remembered by that prefix's length and the count:
    every moment of a week at the same count sees the same."""
    known = [h for h in learned if h.settled_at < moment and h.moment < moment]
    key = (len(known), known_days)
    if key not in memo:
        memo[key] = Decimal(repr(learn_weight(known, moment, known_days=known_days).market_weight))
    return memo[key]


def _maker_fills(
    history: EventHistory, resting: Sequence[PostedOrder], until: datetime | None, book: PaperBook
) -> list[Trade]:
    """The fills of ``resting`` in candles ending by ``until`` (None: by each market's close), as trades,
    entered in the paper book; each with the market's mid one moment after it (adverse selection)."""
    trades = []
    for order in resting:
        candles = history.market_candles(order.ticker)
        if until is None:  # to the close: the candle that covers it holds trades made before it
            close = history.closes_at(order.ticker)
            end = min((r.end_ts for r in candles if r.end_ts >= close), default=close)
        else:
            end = until
        for f in fills(order, candles, end):
            fee = trade_fee(FEES, f.count, order.price, maker=True)
            book_side, yes_price = on_yes_book(order.direction, order.price)
            book.fills.append(_fill_row(order.ticker, book_side, f.count, yes_price, fee))
            trades.append(
                Trade(
                    f.at,
                    order.day,
                    order.event_ticker,
                    order.ticker,
                    order.direction,
                    f.count,
                    order.price,
                    fee,
                    liquidity=Execution.MAKER.value,
                    posted=order.posted,
                    mid_after=history.mid_after(order.ticker, f.at),
                )
            )
    return trades


def _trade(
    history: EventHistory,
    moment: Moment,
    snapshot: Any,
    quotes: list[Any],
    book: PaperBook,
    config: TradingConfig,
    out: ReplayRun,
    execution: Execution = Execution.TAKER,
    resting: list[PostedOrder] | None = None,
    record: EdgeRecord | None = None,
) -> list[Trade]:
    """One moment's decide and place steps on the paper book; returns the taker fills as trades (a maker
    order is added to ``resting`` instead, and fills later)."""
    broker = PaperBroker(snapshot, snapshot.fees, book.fills, book.settled, book.start + book.realised)
    state = broker.exposure(history.event_ticker, {})
    today = book.realised_on.get(moment.at.date(), ZERO)
    state = ExposureState(state.holdings, state.resting, today, state.bankroll)
    run_id = f"replay|{history.event_ticker}|{moment.at.isoformat()}"
    trades = []
    for d in decide(run_id, quotes, snapshot, state, config, record=record):
        if d.action == "none":
            continue
        violations = check_order(d.intent(), state, config.limits)
        if violations:
            out.rejections.append(
                {"moment": moment.at.isoformat(), "ticker": d.ticker, "codes": [v.code for v in violations]}
            )
            continue
        if execution == Execution.MAKER:
            book_of = next(b for b in snapshot.books if b.ticker == d.ticker)
            price = maker_price(book_of, d.direction)
            if price is None:
                continue
            assert resting is not None
            event = history.event_ticker
            resting.append(PostedOrder(moment.at, moment.day, event, d.ticker, d.direction, d.count, price))
            out.posted_contracts += d.count
            fills_now = ()
        else:
            fills_now = broker.place(d, d.order_request(config.time_in_force)).fills
        for f in fills_now:
            book.fills.append(_fill_row(f.ticker, f.book_side, f.count, f.yes_price, f.fee))
            price = f.yes_price if f.book_side == BookSide.BID else 1 - f.yes_price
            trades.append(
                Trade(
                    moment.at, moment.day, history.event_ticker, f.ticker, d.direction, f.count, price, f.fee
                )
            )
        assert d.limit_price is not None and d.fee_per_contract is not None and d.client_order_id
        placed = RestingOrder(
            "this-run", d.client_order_id, d.ticker, d.direction, d.count, d.limit_price + d.fee_per_contract
        )
        state = replace(state, resting=(*state.resting, placed))
    return trades
