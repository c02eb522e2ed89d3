"""The client against the simulator over real HTTP: endpoints, error shapes, retries, idempotency."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest
from kalshi_testkit import KEY_ID

from tsa_bot.kalshi.auth import Signer
from tsa_bot.kalshi.client import KalshiClient, RetryPolicy
from tsa_bot.kalshi.errors import (
    DuplicateOrder,
    InsufficientBalance,
    InvalidPrice,
    KalshiAuthError,
    KalshiNotFound,
    KalshiRateLimited,
    KalshiRequestError,
    KalshiServerError,
    KalshiUnavailable,
    ProductionHostRefused,
    parse_error_body,
)
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import running_simulator

EVENT = "KXTSAW-26FEB15"
T230 = "KXTSAW-26FEB15-A2.30"
D = Decimal


def order(
    coid: str, book_side: str = "bid", count: str = "10", price: str = "0.52", ticker: str = T230, **kw
):
    return OrderRequest(ticker, coid, book_side, D(count), D(price), **kw)


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


# ---- market data ----------------------------------------------------------------------------------


def test_exchange_status_series_event_market_and_orderbook(client):
    status = client.exchange_status()
    assert status.exchange_active and status.trading_active
    series = client.series("KXTSAW")
    assert (series.fee_type, series.fee_multiplier) == ("quadratic", D(1))
    event = client.event(EVENT)
    assert len(event.markets) == 21 and event.series_ticker == "KXTSAW"
    market = client.market(T230)
    assert market.floor_strike == 2_300_000 and market.strike_type == "greater"
    assert (market.yes_bid_dollars, market.yes_ask_dollars) == (D("0.48"), D("0.52"))
    assert market.no_ask_dollars == 1 - market.yes_bid_dollars
    book = client.orderbook(T230)
    # The simulator sends levels worst-to-best like recorded data; the client sorts best first.
    assert [lv.price for lv in book.yes_bids] == [D("0.48"), D("0.47"), D("0.46")]
    assert book.yes_asks[0].price == D("0.52")
    assert isinstance(book.yes_bids[0].count, Decimal)


def test_markets_follow_the_cursor_to_the_last_page(sim):
    transport = CountingTransport()
    with KalshiClient(sim.base_url, transport=transport) as anonymous:
        markets = anonymous.markets(event_ticker=EVENT, page_size=5)
    assert len(markets) == 21 and len({m.ticker for m in markets}) == 21
    assert len(transport.requests) == 5  # 5+5+5+5+1; the last page's cursor is ""


def test_market_data_needs_no_key_but_portfolio_does(sim):
    with KalshiClient(sim.base_url) as anonymous:
        assert anonymous.exchange_status().trading_active
        with pytest.raises(Exception, match="KALSHI_KEY_ID"):
            anonymous.balance()


# ---- portfolio and orders ------------------------------------------------------------------------


def test_order_fills_and_shows_in_positions_orders_fills_and_balance(client):
    placed = client.create_order(order("c-1"))
    assert placed.fill_count == 10 and placed.remaining_count == 0 and not placed.already_existed
    assert placed.average_fill_price == D("0.52")
    fills = client.fills(ticker=T230)
    assert len(fills) == 1 and fills[0].fee_cost == D("0.1748")  # ceil(0.07*10*0.52*0.48, 0.0001)
    [position] = client.positions().market_positions
    assert (position.ticker, position.position_fp, position.market_exposure_dollars) == (T230, 10, D("5.2"))
    [o] = client.orders(ticker=T230)
    assert (o.status, o.fill_count_fp, o.client_order_id) == ("executed", 10, "c-1")
    assert client.balance().balance_dollars == D("1000") - D("5.2") - D("0.1748")


def test_buying_no_is_an_ask_on_the_yes_book(client):
    client.create_order(order("no-1", book_side="ask", price="0.48", count="5"))  # buy NO at 0.52
    [position] = client.positions().market_positions
    assert position.position_fp == -5 and position.market_exposure_dollars == D("2.60")


def test_resting_order_is_cancelled_and_a_second_cancel_is_not_found(client):
    placed = client.create_order(order("rest-1", price="0.40"))
    assert placed.remaining_count == 10
    assert [o.order_id for o in client.orders(status="resting")] == [placed.order_id]
    assert client.balance().balance_dollars == D("996")  # 10 x 0.40 reserved
    cancelled = client.cancel_order(placed.order_id)
    assert cancelled.reduced_by == 10
    assert client.balance().balance_dollars == D("1000")
    with pytest.raises(KalshiNotFound):
        client.cancel_order(placed.order_id)
    assert client.cancel_if_resting(placed.order_id) is None


def test_settlements_pay_the_winning_side(client, sim):
    client.create_order(order("s-1"))
    sim.settle(EVENT, 2_300_001)  # strictly above 2.30 M: YES
    [settlement] = [s for s in client.settlements(event_ticker=EVENT) if s.ticker == T230]
    assert (settlement.market_result, settlement.yes_count_fp, settlement.revenue_dollars) == ("yes", 10, 10)
    assert client.market(T230).result == "yes"
    assert client.positions().market_positions == ()
    assert client.balance().balance_dollars == D("1000") - D("5.2") - D("0.1748") + 10


# ---- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message", "details"),
    [
        ('{"error":{"code":"not_found","message":"nf","details":"x"}}', "not_found", "nf", "x"),
        ('{"code":"bad_request","message":"bad json","details":"d"}', "bad_request", "bad json", "d"),
        ('{"msg":"limit too big"}', "", "limit too big", ""),
        ('{"error":"too many requests"}', "", "too many requests", ""),
        ("<html>bad gateway</html>", "", "<html>bad gateway</html>", ""),
    ],
)
def test_every_error_body_shape_is_parsed(body, code, message, details):
    parsed = parse_error_body(body)
    assert (parsed.code, parsed.message, parsed.details) == (code, message, details)


def test_duplicate_client_order_id_returns_the_existing_order(client, sim):
    first = client.create_order(order("dup-1", price="0.40"))
    client.cancel_order(first.order_id)
    again = client.create_order(order("dup-1", price="0.40"))  # 409 even after a cancel
    assert again.already_existed and again.order_id == first.order_id
    assert len(client.orders()) == 1


def test_a_409_for_an_order_we_cannot_find_is_raised(client, sim, rsa_key):
    # The id was used on another ticker: the lookup on this ticker finds nothing.
    client.create_order(order("dup-2", price="0.40"))
    with pytest.raises(DuplicateOrder) as info:
        client.create_order(order("dup-2", price="0.40", ticker="KXTSAW-26FEB15-A2.35"))
    assert info.value.status == 409 and info.value.code == "order_already_exists"
    assert not info.value.retryable


def test_insufficient_balance_and_invalid_price(client):
    with pytest.raises(InsufficientBalance, match="insufficient_balance"):
        client.create_order(order("big", count="5000", price="0.40"))
    for bad in ("0.405", "0.0000", "1.0000"):
        with pytest.raises(InvalidPrice):
            client.create_order(order(f"px-{bad}", price=bad))
    assert client.orders() == []


def test_post_only_cross_is_invalid_order(client):
    with pytest.raises(KalshiRequestError) as info:
        client.create_order(order("po", price="0.52", post_only=True))
    assert (info.value.code, info.value.details) == ("invalid_order", "post only cross")


def test_unknown_ticker_is_not_found(client):
    with pytest.raises(KalshiNotFound):
        client.market("KXTSAW-26FEB15-A9.99")


def _signed(rsa_key, method: str, path: str, key_id: str = KEY_ID, clock=time.time) -> dict[str, str]:
    return Signer(key_id, rsa_key, clock).headers(method, path)


@pytest.mark.parametrize("bad", ["", "../portfolio/balance", "KXTSAW-26FEB15/orderbook", "é☃", "a b"])
def test_an_identifier_that_would_change_the_path_is_refused_before_any_request(bad):
    """``event("")`` used to GET /events/ (the listing); ``cancel_order("../x")`` would sign another path."""
    from tsa_bot.core.errors import ConfigurationError

    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.method} {request.url}")

    with KalshiClient(
        "http://127.0.0.1:9/trade-api/v2", transport=httpx.MockTransport(nothing_may_be_sent)
    ) as c:
        for call in (c.event, c.market, c.orderbook, c.cancel_order, c.series):
            with pytest.raises(ConfigurationError, match="not a Kalshi"):
                call(bad)
        with pytest.raises(ConfigurationError, match="not a Kalshi"):
            c.market_candlesticks("KXTSAW", bad, start_ts=0, end_ts=1, period_interval=60)


def test_auth_failures_have_kalshis_codes(sim, rsa_key, other_rsa_key):
    path = "/trade-api/v2/portfolio/balance"
    with httpx.Client(base_url=sim.root_url) as raw:
        missing = raw.get(path)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "signature_is_missing_from_headers"
        wrong = raw.get(path, headers=_signed(other_rsa_key, "GET", path))
        assert wrong.json() == {
            "error": {
                "code": "authentication_error",
                "message": "authentication_error",
                "details": "INCORRECT_API_KEY_SIGNATURE",
            }
        }
        unknown = raw.get(path, headers=_signed(rsa_key, "GET", path, key_id="nobody"))
        assert unknown.json()["error"]["details"] == "NOT_FOUND"
        signed_other_path = _signed(rsa_key, "GET", "/trade-api/v2/portfolio/positions")
        assert raw.get(path, headers=signed_other_path).status_code == 401


def test_clock_skew_over_five_seconds_is_rejected(sim, rsa_key):
    with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, clock=lambda: time.time() - 4) as ok:
        assert ok.balance().balance_dollars == 1000
    skewed = KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, clock=lambda: time.time() + 6)
    with skewed, pytest.raises(KalshiAuthError) as info:
        skewed.balance()
    assert info.value.code == "header_timestamp_expired" and not info.value.retryable


def test_wrong_key_raises_auth_error_without_retrying(sim, other_rsa_key):
    transport = CountingTransport()
    wrong = KalshiClient(sim.base_url, KEY_ID, private_key=other_rsa_key, transport=transport)
    with wrong, pytest.raises(KalshiAuthError, match="INCORRECT_API_KEY_SIGNATURE"):
        wrong.balance()
    assert len(transport.requests) == 1


def test_number_instead_of_string_is_a_bad_request_in_the_bare_shape(sim, rsa_key):
    path = "/trade-api/v2/portfolio/events/orders"
    body = {"ticker": T230, "client_order_id": "n", "side": "bid", "count": 10, "price": "0.52"}
    with httpx.Client(base_url=sim.root_url) as raw:
        answer = raw.post(path, json=body, headers=_signed(rsa_key, "POST", path))
        assert answer.status_code == 400 and answer.json()["code"] == "bad_request"
        not_json = raw.post(path, content=b"{", headers=_signed(rsa_key, "POST", path))
        assert not_json.status_code == 400 and not_json.json()["code"] == "bad_request"
        too_many = raw.get("/trade-api/v2/markets", params={"limit": 5000})
        assert too_many.status_code == 400 and "msg" in too_many.json()
        v1 = raw.post("/trade-api/v2/portfolio/orders", json={}, headers=_signed(rsa_key, "POST", "/x"))
        assert v1.status_code == 410 and v1.json()["error"]["code"] == "deprecated_v1_order_endpoint"


def test_validation_error_in_msg_shape_becomes_a_request_error(client):
    with pytest.raises(KalshiRequestError, match="time_in_force"):
        client.create_order(order("tif", time_in_force="good_till_friday"))


# ---- retries -------------------------------------------------------------------------------------------


def test_a_429_storm_is_ridden_out_with_backoff(client, sim):
    sim.inject("GET", "/markets", "429", times=4)
    assert client.market(T230).ticker == T230


def test_a_429_storm_longer_than_the_budget_raises_a_retryable_error(sim, rsa_key):
    sim.inject("GET", "/exchange/status", "429", times=100)
    retry = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.002)
    with KalshiClient(sim.base_url, retry=retry) as c, pytest.raises(KalshiRateLimited) as info:
        c.exchange_status()
    assert info.value.retryable


def test_real_token_bucket_limits_writes_and_the_client_recovers(rsa_key):
    with running_simulator(read_rate=1000, write_rate=5) as slow:
        slow.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        transport = CountingTransport()
        retry = RetryPolicy(attempts=20, backoff_s=0.05, max_backoff_s=0.2, budget_s=10)
        with KalshiClient(slow.base_url, KEY_ID, private_key=rsa_key, retry=retry, transport=transport) as c:
            for i in range(12):
                c.create_order(order(f"rl-{i}", price="0.30", count="1"))
            assert len(c.orders()) == 12
        posts = [r for r in transport.requests if r.method == "POST"]
        assert len(posts) > 12  # some were answered 429 and sent again


def test_server_errors_on_reads_are_retried_then_raised(client, sim):
    sim.inject("GET", "/portfolio/balance", "500", times=2)
    assert client.balance().balance_dollars == 1000
    sim.inject("GET", "/portfolio/balance", "500", times=50)
    with pytest.raises(KalshiServerError) as info:
        client.balance()
    assert info.value.retryable


def test_dropped_connection_after_the_order_was_accepted_does_not_double_it(client, sim):
    sim.inject("POST", "/portfolio/events/orders", "drop_after")
    placed = client.create_order(order("drop-1"))
    assert placed.already_existed and placed.status == "executed"
    assert [o.client_order_id for o in client.orders()] == ["drop-1"]
    assert client.positions().market_positions[0].position_fp == 10


def test_server_error_after_the_order_was_accepted_does_not_double_it(client, sim):
    sim.inject("POST", "/portfolio/events/orders", "500_after")
    placed = client.create_order(order("500-1", price="0.40"))
    assert placed.already_existed and placed.status == "resting"
    assert len(client.orders()) == 1


def test_server_error_before_the_order_was_accepted_is_sent_again(client, sim):
    sim.inject("POST", "/portfolio/events/orders", "500")
    placed = client.create_order(order("500-2"))
    assert not placed.already_existed and placed.fill_count == 10
    assert len(client.orders()) == 1


def test_rate_limited_create_is_sent_again_once_the_bucket_refills(client, sim):
    sim.inject("POST", "/portfolio/events/orders", "429", times=3)
    placed = client.create_order(order("429-1"))
    assert placed.fill_count == 10 and len(client.orders()) == 1


def test_dropped_connection_on_every_try_never_places_more_than_one_order(sim, rsa_key):
    sim.inject("POST", "/portfolio/events/orders", "drop_after", times=10)
    sim.inject("GET", "/portfolio/orders", "500", times=100)  # and the lookups fail too
    retry = RetryPolicy(attempts=4, backoff_s=0.001, max_backoff_s=0.002)
    c = KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=retry)
    with c, pytest.raises((KalshiUnavailable, KalshiServerError)):
        c.create_order(order("drop-2"))
    account = sim.exchange.accounts[KEY_ID]
    assert [o.client_order_id for o in account.orders] == ["drop-2"]


# ---- production guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://external-api.kalshi.com/trade-api/v2",
        "https://api.elections.kalshi.com/trade-api/v2",
        "https://EXTERNAL-API.KALSHI.COM./trade-api/v2",
        "https://kalshi.com/trade-api/v2",
    ],
)
def test_production_hosts_are_refused_unless_opted_in(url):
    with pytest.raises(ProductionHostRefused):
        KalshiClient(url)
    KalshiClient(url, allow_production=True).close()


def test_demo_hosts_are_not_production():
    KalshiClient("https://external-api.demo.kalshi.co/trade-api/v2").close()
    KalshiClient("https://demo-api.kalshi.co/trade-api/v2").close()
