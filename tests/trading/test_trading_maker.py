"""Maker execution end to end: the trading steps against the simulator over real HTTP and a real Postgres.

A maker run posts post-only orders at the bid; the crowd fills some; the next run amends what it still wants
(after a partial fill too) and cancels the rest; an order the book moved through before it was sent is
refused as the exchange refuses it; lost answers (an amend, a cancel) lose nothing; every resting order
expires before the close; and the paper book does the same against later snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from key_testkit import new_key
from trading_testkit import EVENT, FAST_RETRY, KEY_ID, SEED, T225, T235, trade

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import event_close_time, event_ticker_for_week
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.models import AmendRequest, OrderRequest
from tsa_bot.kalshi_sim import EventSeed, RunningSimulator, running_simulator
from tsa_bot.pricing.execution import Execution
from tsa_bot.trading import steps, store
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.execution import adopt_orders, fill_paper_resting
from tsa_bot.trading.maker import CLOSE_MARGIN
from tsa_bot.trading.run import TradingRun

D = Decimal
PROBS = {2_200_000: 0.90, 2_250_000: 0.85, 2_300_000: 0.50, 2_350_000: 0.10, 2_400_000: 0.16}
# The next day's view: 2.25 M still cheap, 2.35 M now fair (its NO order is no longer wanted).
PROBS_LATER = {2_200_000: 0.90, 2_250_000: 0.85, 2_300_000: 0.50, 2_350_000: 0.30, 2_400_000: 0.16}
MAKER_DEMO = {"mode": "demo", "execution": "maker", "max_order_contracts": 12}
OTHER_KEY = "0c0ffee0-0000-4000-8000-000000000001"


def demo_config(**params) -> TradingConfig:
    return TradingConfig.from_params({**MAKER_DEMO, **params}, env={})


def our_exchange_orders(sim: RunningSimulator, ticker: str | None = None) -> list:
    with sim.exchange.lock:
        orders = list(sim.exchange.accounts[KEY_ID].orders)
    return [o for o in orders if ticker is None or o.ticker == ticker]


def ledger(engine: sa.Engine) -> dict[str, dict]:
    with engine.begin() as conn:
        return {k: dict(v) for k, v in store.our_orders(conn, EVENT, "demo").items()}


@pytest.fixture
def seller(tsim) -> Iterator[KalshiClient]:
    """Another trader on the exchange: it moves the book by selling into the bids."""
    key = new_key()
    tsim.register_key(OTHER_KEY, key.public_key(), balance=1000)
    with KalshiClient(tsim.base_url, OTHER_KEY, private_key=key, retry=FAST_RETRY) as c:
        yield c


def test_the_execution_setting_is_read_from_env_and_params_with_one_line_errors():
    assert TradingConfig.from_params({}, env={}).execution is Execution.TAKER
    assert TradingConfig.from_params({}, env={"TSABOT_EXECUTION": "Maker"}).execution is Execution.MAKER
    over = TradingConfig.from_params({"execution": "taker"}, env={"TSABOT_EXECUTION": "maker"})
    assert over.execution is Execution.TAKER
    unset = TradingConfig.from_params({"execution": None}, env={"TSABOT_EXECUTION": "maker"})
    assert unset.execution is Execution.MAKER
    with pytest.raises(ConfigurationError, match=r"^param execution must be taker or maker, not 'patient'$"):
        TradingConfig.from_params({"execution": "patient"}, env={})
    with pytest.raises(ConfigurationError, match=r"^TSABOT_EXECUTION must be taker or maker"):
        TradingConfig.from_env({"TSABOT_EXECUTION": "both"})


def test_a_maker_run_rests_post_only_orders_at_the_bid_and_the_next_run_amends_or_cancels_them(
    warehouse_engine, tsim, tclient
):
    """Run 1 posts at the bid; the crowd fills part of the 2.25 M order (as a maker: no fee on KXTSAW's
    ``quadratic``); run 2 amends that order to its own decision (filled + new remaining, its own id) and
    cancels the 2.35 M order it no longer wants."""
    config = demo_config()
    first = trade("maker-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config)
    assert first["orders"] == 2 and first["filled"] == "0"
    yes_order, no_order = our_exchange_orders(tsim, T225)[0], our_exchange_orders(tsim, T235)[0]
    first_yes_id = yes_order.client_order_id  # the simulator's order object takes the new id on an amend
    # SEED: 2.25 M is 0.68 / 0.72, 2.35 M 0.28 / 0.32: one tick inside a four-tick spread.
    assert (yes_order.book_side, yes_order.price, yes_order.post_only) == ("bid", D("0.69"), True)
    assert (no_order.book_side, no_order.price, no_order.post_only) == ("ask", D("0.31"), True)
    assert yes_order.status == no_order.status == "resting"
    rows = ledger(warehouse_engine)
    assert {r["liquidity"] for r in rows.values()} == {"maker"}
    assert {r["status"] for r in rows.values()} == {"resting"}
    with warehouse_engine.begin() as conn:
        reasons = [d.reason for _, d in store.load_decisions(conn, "maker-1") if d.action != "none"]
    assert all("maker: post-only at" in r for r in reasons)

    made = tsim.admin("POST", "/sim/crowd/trade", {"ticker": T225, "yes_price": "0.60", "count": "4"})
    assert made.status_code == 200 and len(made.json()["fills"]) == 1

    second = trade("maker-2", EVENT, PROBS_LATER, engine=warehouse_engine, client=tclient, config=config)
    assert second["amended"] == 1 and second["cancelled_stale"] == 1
    after = our_exchange_orders(tsim, T225)
    assert len(after) == 1  # amended in place, not cancelled and placed again
    amended = after[0]
    with warehouse_engine.begin() as conn:
        decision = next(d for _, d in store.load_decisions(conn, "maker-2") if d.ticker == T225)
    assert amended.client_order_id == decision.client_order_id
    assert amended.filled == D(4) and amended.remaining == decision.count
    assert our_exchange_orders(tsim, T235)[0].status == "canceled"
    rows = ledger(warehouse_engine)
    old = rows[first_yes_id]
    new = rows[decision.client_order_id]
    assert old["status"] == "amended" and new["amends"] == first_yes_id
    assert (new["status"], new["order_id"], new["count"], new["filled_count"]) == (
        "resting",
        amended.order_id,
        D(4) + decision.count,
        D(4),
    )
    assert rows[no_order.client_order_id]["status"] == "canceled"
    with warehouse_engine.begin() as conn:
        fills = store.fills_for_event(conn, EVENT, "demo")
    assert [(f["count"], f["yes_price"], f["is_taker"], f["fee"]) for f in fills] == [
        (D(4), D("0.69"), False, D(0))
    ]


def test_a_post_only_order_the_book_moved_through_is_refused_and_nothing_rests(
    warehouse_engine, tsim, tclient, seller
):
    """Between the decision and the placement someone sells 2.25 M down to 0.68: the 0.69 post-only bid
    would now cross, the exchange refuses it, and the run records why; the bot never crosses instead."""
    config = demo_config()
    fetched = steps.fetch_step(warehouse_engine, "cross-1", EVENT, config=config, client=tclient, params={})
    assert "skipped" not in fetched
    steps.price_step(TradingRun.load(warehouse_engine, "cross-1", config), PROBS)
    steps.decide_step(TradingRun.load(warehouse_engine, "cross-1", config), client=tclient)
    seller.create_order(OrderRequest(T225, "seller-1", "ask", D(15), D("0.68")))  # 10 trade, 5 rest at 0.68

    placed = steps.place_step(TradingRun.load(warehouse_engine, "cross-1", config), client=tclient)
    assert placed["rejected"] == 1 and placed["orders"] == 1
    assert our_exchange_orders(tsim, T225) == []
    with warehouse_engine.begin() as conn:
        why = conn.execute(
            sa.text("select stage, code, reason from trading_rejections where run_id = 'cross-1'")
        ).one()
    assert why.stage == "exchange" and why.code == "invalid_order" and "post only cross" in why.reason
    row = next(r for r in ledger(warehouse_engine).values() if r["ticker"] == T225)
    assert row["status"] == "unsent"


def test_an_amend_whose_answer_was_lost_is_adopted_by_the_retry_and_never_sent_twice(
    warehouse_engine, tsim, tclient
):
    """The place step wrote its amend to the ledger and the exchange applied it, but the worker died before
    hearing back. The retried step finds the order under the new id, records it, and sends nothing again."""
    config = demo_config()
    trade("lost-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config)
    stale = our_exchange_orders(tsim, T225)[0]
    stale_id = stale.client_order_id  # the simulator's order object takes the new id on an amend
    steps.fetch_step(warehouse_engine, "lost-2", EVENT, config=config, client=tclient, params={})
    steps.price_step(TradingRun.load(warehouse_engine, "lost-2", config), PROBS_LATER)
    steps.decide_step(TradingRun.load(warehouse_engine, "lost-2", config), client=tclient)
    with warehouse_engine.begin() as conn:
        (decision_id, decision) = next(
            (i, d) for i, d in store.load_decisions(conn, "lost-2") if d.ticker == T225
        )
        request = decision.order_request("good_till_canceled")
        store.record_intent(
            conn,
            run_id="lost-2",
            decision_id=decision_id,
            mode="demo",
            d=decision,
            request=request,
            amends=stale_id,
        )
    tclient.amend_order(  # what the dead attempt sent
        stale.order_id,
        AmendRequest(T225, "bid", stale_id, decision.client_order_id, request.price, request.count),
    )
    amends_before = sum(1 for m, p in tsim.requests if m == "POST" and p.endswith("/amend"))

    placed = steps.place_step(TradingRun.load(warehouse_engine, "lost-2", config), client=tclient)
    assert placed["rejected"] == 0
    assert sum(1 for m, p in tsim.requests if m == "POST" and p.endswith("/amend")) == amends_before
    resting = [o for o in our_exchange_orders(tsim, T225) if o.status == "resting"]
    assert len(resting) == 1 and resting[0].client_order_id == decision.client_order_id
    rows = ledger(warehouse_engine)
    assert rows[stale_id]["status"] == "amended"
    assert rows[decision.client_order_id]["order_id"] == stale.order_id
    assert rows[decision.client_order_id]["status"] == "resting"


def test_a_lost_cancel_answer_still_ends_the_stale_order(warehouse_engine, tsim, tclient):
    """Run 2 no longer wants 2.35 M; its cancel reaches the exchange but the answer is lost, and the retry
    is told the order is gone (404). The run goes on, and the ledger says cancelled."""
    config = demo_config()
    trade("cancel-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config)
    stale = our_exchange_orders(tsim, T235)[0]
    tsim.inject("DELETE", "/portfolio/events/orders/", "drop_after")
    second = trade("cancel-2", EVENT, PROBS_LATER, engine=warehouse_engine, client=tclient, config=config)
    assert second["cancelled_stale"] == 1
    assert our_exchange_orders(tsim, T235)[0].status == "canceled"
    assert ledger(warehouse_engine)[stale.client_order_id]["status"] == "canceled"
    deletes = [p for m, p in tsim.requests if m == "DELETE"]
    assert len(deletes) == 2  # the lost one and the retry that found it gone


def _next_event(today: date) -> str:
    """An event whose close is still a few days ahead of ``today``."""
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return event_ticker_for_week(monday)


def test_every_resting_order_expires_before_the_market_closes(warehouse_engine, rsa_key):
    """Resting orders carry an expiration a margin before the close; at that moment the exchange cancels
    them, and the next run's catch-up records it."""
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    event = _next_event(datetime.now(UTC).date())
    seed = EventSeed(
        event_ticker=event,
        strikes=SEED.strikes,
        mids=SEED.mids,
        half_spread=SEED.half_spread,
        levels=SEED.levels,
        depth=SEED.depth,
    )
    ticker = f"{event}-A2.25"
    with running_simulator(seed, read_rate=10_000, write_rate=10_000, clock=clock) as sim:
        sim.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY, clock=clock) as c:
            config = demo_config()
            trade("expire-1", event, PROBS, engine=warehouse_engine, client=c, config=config)
            with sim.exchange.lock:
                order = next(o for o in sim.exchange.accounts[KEY_ID].orders if o.ticker == ticker)
            expires = event_close_time(event) - CLOSE_MARGIN
            assert order.expiration_time == int(expires.timestamp())
            with warehouse_engine.begin() as conn:
                row = store.our_orders(conn, event, "demo")[order.client_order_id]
            assert row["expires_at"] == expires and row["status"] == "resting"

            offset[0] = expires.timestamp() - time.time() - 1
            assert c.find_order(order.client_order_id, ticker).status == "resting"
            offset[0] = expires.timestamp() - time.time() + 1
            assert c.find_order(order.client_order_id, ticker).status == "canceled"
            adopt_orders(c, warehouse_engine, "expire-2", event, "demo")
            with warehouse_engine.begin() as conn:
                row = store.our_orders(conn, event, "demo")[order.client_order_id]
            assert row["status"] == "canceled" and "exchange reports it canceled" in row["status_reason"]


def test_the_paper_book_rests_maker_orders_and_fills_them_only_against_later_snapshots(
    warehouse_engine, tsim, tclient, seller
):
    """Paper: run 1 rests its orders in the ledger (nothing on the exchange); someone then sells 2.25 M
    through the paper bid; run 2's snapshot shows it, so the order fills whole, as a maker, at its price."""
    config = TradingConfig.from_params({"mode": "paper", "execution": "maker"}, env={})
    first = trade("paper-m1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config)
    assert first["orders"] == 2 and first["filled"] == "0"
    assert our_exchange_orders(tsim) == []
    with warehouse_engine.begin() as conn:
        resting = store.resting_orders(conn, "paper", EVENT)
        again = fill_paper_resting(TradingRun.load(warehouse_engine, "paper-m1", config))
    assert {(r["ticker"], r["yes_price"], r["liquidity"]) for r in resting} == {
        (T225, D("0.69"), "maker"),
        (T235, D("0.31"), "maker"),
    }
    assert again == 0  # its own snapshot was taken before the orders: it cannot fill them

    seller.create_order(OrderRequest(T225, "seller-1", "ask", D(15), D("0.68")))  # YES offer now 0.68
    trade("paper-m2", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config)
    with warehouse_engine.begin() as conn:
        fills = [f for f in store.fills_for_event(conn, EVENT, "paper") if not f["is_taker"]]
        by_coid = {r["client_order_id"]: r for r in store.our_orders(conn, EVENT, "paper").values()}
    yes_row = next(r for r in resting if r["ticker"] == T225)
    assert [(f["ticker"], f["count"], f["yes_price"], f["fee"]) for f in fills] == [
        (T225, yes_row["count"], D("0.69"), D(0))
    ]
    assert by_coid[yes_row["client_order_id"]]["status"] == "executed"
    # The 2.35 M order was neither met nor wanted differently: run 2 amended it (on paper, replaced it).
    no_row = next(r for r in resting if r["ticker"] == T235)
    assert by_coid[no_row["client_order_id"]]["status"] == "amended"


def test_a_paper_resting_order_fills_only_on_a_later_unexpired_snapshot_strictly_through_its_price():
    """Unit test of the paper fill rule, point in time: a snapshot taken before the order, or after it
    expired, cannot fill it; an offer at the order's price is not through it; a maker fee is charged where
    the series has one."""
    from tsa_bot.core.market import Level, OrderBook
    from tsa_bot.pricing.fees import FeeSchedule
    from tsa_bot.pricing.quotes import MarketSnapshot
    from tsa_bot.trading.maker import paper_maker_fills

    placed = datetime(2026, 2, 11, 14, 30, tzinfo=UTC)
    row = {
        "client_order_id": "c1",
        "order_id": "paper-c1",
        "ticker": T225,
        "direction": "yes",
        "yes_price": D("0.69"),
        "count": D(10),
        "filled_count": D(3),
        "created_at": placed,
        "expires_at": datetime(2026, 2, 16, 4, 44, tzinfo=UTC),
    }
    fees = FeeSchedule("quadratic_with_maker_fees")

    def snapshot(at: datetime, yes_offer: str) -> MarketSnapshot:
        no_bid = D(1) - D(yes_offer)  # a YES offer at p is a NO bid at 1 - p
        book = OrderBook(
            ticker=T225, yes_bids=(Level(D("0.60"), D(5)),), no_bids=(Level(no_bid, D(5)),), strike=2_250_000
        )
        return MarketSnapshot(EVENT, fees, (book,), at)

    later = placed + timedelta(days=1)
    assert paper_maker_fills([row], snapshot(placed - timedelta(minutes=1), "0.65"), fees) == []
    assert paper_maker_fills([row], snapshot(later, "0.69"), fees) == []  # at our price: not through it
    assert paper_maker_fills([row], snapshot(datetime(2026, 2, 16, 5, tzinfo=UTC), "0.65"), fees) == []
    (fill,) = paper_maker_fills([row], snapshot(later, "0.68"), fees)
    assert (fill.count, fill.yes_price, fill.book_side) == (D(7), D("0.69"), "bid")
    assert fill.fee == D("0.0263")  # 0.0175 × 7 × 0.69 × 0.31 = 0.026215, rounded up to $0.0001


def test_the_dags_tasks_trade_as_makers_when_the_run_asks_and_as_the_environment_says_otherwise(
    worker_env, warehouse_engine, monkeypatch
):
    """The ``execution`` param reaches the tasks the DAG runs (``orchestration.daily``); left empty, the
    worker's ``TSABOT_EXECUTION`` decides."""
    from trading_testkit import decide_with_daily_tasks, run_info

    from tsa_bot.orchestration import daily

    decided = decide_with_daily_tasks(
        warehouse_engine, "dag-maker", {"mode": "demo", "execution": "maker"}, PROBS
    )
    assert decided["execution"] == "maker"
    daily.place_orders(run_info("dag-maker", {"mode": "demo", "execution": "maker"}))
    orders = our_exchange_orders(worker_env)
    assert orders and all(o.post_only and o.status == "resting" for o in orders)

    monkeypatch.setenv("TSABOT_EXECUTION", "maker")
    decided = decide_with_daily_tasks(warehouse_engine, "dag-env", {"mode": "demo", "execution": None}, PROBS)
    assert decided["execution"] == "maker"
    monkeypatch.setenv("TSABOT_EXECUTION", "taker")
    decided = decide_with_daily_tasks(warehouse_engine, "dag-env-2", {"mode": "demo"}, PROBS)
    assert decided["execution"] == "taker"


def test_a_demo_week_against_the_simulators_crowd_rests_fills_and_ends_before_the_close(
    warehouse_engine, rsa_key
):
    """The whole maker week on a hosted simulator week with its crowd, over HTTP, on the exchange's clock:
    Wednesday's run posts post-only orders at the bid; the crowd's own trades through their prices fill some
    of them as a maker (no admin call); at the expiry, 15 minutes before Sunday's close, the exchange ends
    the rest; the next look records every order's end."""
    from tsa_bot.core.market import NEW_YORK
    from tsa_bot.kalshi_sim import HistorySeed
    from tsa_bot.trading.execution import sync_fills

    monday = date(2025, 3, 10)
    event = event_ticker_for_week(monday)
    now = [datetime(2025, 3, 12, 12, tzinfo=NEW_YORK).timestamp()]

    def clock() -> float:
        return now[0]

    with running_simulator(
        history=HistorySeed(monday, monday), clock=clock, read_rate=1e6, write_rate=1e6
    ) as sim:
        sim.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY, clock=clock) as c:
            # A forecast that finds every strike near the money cheap: YES wanted at each.
            mids = {m.floor_strike: (b + a) / 2 for m in c.event(event).markets for b, a in [_sides(c, m)]}
            probs = {k: min(0.97, float(mid) + 0.25) for k, mid in mids.items() if D("0.1") < mid < D("0.8")}
            assert probs
            placed = trade("week-1", event, probs, engine=warehouse_engine, client=c, config=demo_config())
            assert placed["orders"] > 0 and placed["filled"] == "0"
            with sim.exchange.lock:
                ours = list(sim.exchange.accounts[KEY_ID].orders)
            expires = event_close_time(event) - CLOSE_MARGIN
            assert ours and all(o.post_only and o.status == "resting" for o in ours)
            assert {o.expiration_time for o in ours} == {int(expires.timestamp())}

            now[0] = expires.timestamp() + 60  # past every tape trade until then, and past the expiry
            adopt_orders(c, warehouse_engine, "week-look", event, "demo")
            sync_fills(warehouse_engine, c, event, "demo")
            fills = c.fills()
    assert fills, "the crowd traded through none of the resting bids all week"
    assert all(not f.is_taker and f.fee_cost == 0 for f in fills)
    with warehouse_engine.begin() as conn:
        rows = store.our_orders(conn, event, "demo").values()
        saved = store.fills_for_event(conn, event, "demo")
    assert len(saved) == len(fills) and not any(f["is_taker"] for f in saved)
    assert {r["status"] for r in rows} <= {"canceled", "executed"}  # nothing rests past the expiry
    assert any(r["filled_count"] > 0 for r in rows)


def _sides(client: KalshiClient, market) -> tuple[Decimal, Decimal]:
    """A market's best YES bid and ask from its order book (0 and 1 where a side is empty)."""
    book = client.orderbook(market.ticker)
    bid = max((lv.price for lv in book.yes_bids), default=D(0))
    ask = min((lv.price for lv in book.yes_asks), default=D(1))
    return bid, ask
