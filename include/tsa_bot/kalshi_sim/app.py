"""The simulator's HTTP layer: Kalshi's Trade API v2 paths as a Starlette route table over an ``Exchange``.

Every request passes one gate (``Gate``) before its route: it is logged in ``Exchange.requests``, the
``/sim/`` admin paths check the admin token, and API paths cancel the orders past their expiration, then
take their scripted fault and their rate-limit token. Routes only translate between HTTP and the exchange;
the rules live in ``exchange.py`` and ``resting.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsa_bot.core.market import in_event
from tsa_bot.kalshi.auth import KEY_HEADER
from tsa_bot.kalshi_sim.candles import PERIODS
from tsa_bot.kalshi_sim.errors import ApiError, decode_error, std_error, validation_error
from tsa_bot.kalshi_sim.exchange import API_PREFIX, Exchange
from tsa_bot.kalshi_sim.faults import parse_fault
from tsa_bot.kalshi_sim.state import Account, SimMarket, iso_time

ADMIN_PREFIX = "/sim/"
Handler = Callable[[Request], Awaitable[Response]]


class ResponseDropped(Exception):
    """Raised after the status line of a ``drop_after`` answer: the server closes the connection there."""


def answer(status: int, body: Any) -> Response:
    return Response(json.dumps(body, default=str), status, media_type="application/json")


def _params(request: Request) -> dict[str, str]:
    # parse_qs drops blank values, as the exchange does: ``?cursor=`` means no cursor.
    return {k: v[-1] for k, v in parse_qs(request.scope["query_string"].decode("latin-1")).items()}


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise decode_error(f"invalid character in request body: {exc}") from None


def _exchange(request: Request) -> Exchange:
    return request.app.state.exchange


def _signed_path(request: Request) -> str:
    """The path as sent, without the query: what the client signed."""
    return request.scope.get("raw_path", request.scope["path"].encode()).decode("latin-1").split("?")[0]


def _account(request: Request) -> Account:
    return _exchange(request).authenticate(request.headers, request.method, _signed_path(request))


def page(
    items: list[Any], params: Mapping[str, str], key: str, *, default: int = 100, maximum: int = 1000
) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with Kalshi's opaque cursor (empty on the last page)."""
    try:
        limit = int(params.get("limit") or default)
    except ValueError:
        raise validation_error("limit must be an integer") from None
    if not 1 <= limit <= maximum:
        raise validation_error(f"limit must be between 1 and {maximum}")
    cursor = params.get("cursor") or ""
    try:
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    except ValueError:
        raise validation_error("invalid cursor") from None
    chunk = items[start : start + limit]
    end = start + len(chunk)
    next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return {key: chunk, "cursor": next_cursor}


# ---- market data ----------------------------------------------------------------------------------------


async def exchange_status(request: Request) -> Response:
    exchange = _exchange(request)
    return answer(
        200, {"exchange_active": exchange.exchange_active, "trading_active": exchange.trading_active}
    )


async def get_series(request: Request) -> Response:
    ticker = request.path_params["series_ticker"]
    series = _exchange(request).series.get(ticker)
    if series is None:
        raise std_error(404, "not_found", "series not found", ticker)
    return answer(200, {"series": {k: v for k, v in series.items() if not k.startswith("_")}})


async def get_event(request: Request) -> Response:
    exchange = _exchange(request)
    ticker = request.path_params["event_ticker"]
    with exchange.lock:
        if ticker not in exchange.events:
            raise std_error(404, "not_found", "event not found", ticker)
        public = exchange.event_json(ticker, nested=False)
        markets = exchange.event_markets(ticker)
    if _params(request).get("with_nested_markets") == "true":
        public["markets"] = markets
    return answer(200, {"event": public, "markets": markets})


EVENT_STATUSES = ("unopened", "open", "closed", "settled")


def _event_status(statuses: set[str]) -> str:
    if statuses <= {"finalized", "determined"}:
        return "settled"
    if "active" in statuses:
        return "open"
    if statuses <= {"initialized"}:
        return "unopened"
    return "closed"


async def get_events(request: Request) -> Response:
    exchange = _exchange(request)
    params = _params(request)
    status = params.get("status")
    if status and status not in EVENT_STATUSES:
        raise validation_error("status must be one of " + " ".join(EVENT_STATUSES))
    min_close = _timestamp(params, "min_close_ts")
    nested = params.get("with_nested_markets") == "true"
    rows = []
    with exchange.lock:
        for ticker, event in exchange.events.items():
            if params.get("series_ticker") and event["series_ticker"] != params["series_ticker"]:
                continue
            if min_close is not None and not event["_close_ts"] > min_close:
                continue
            statuses = {exchange.markets[t].status for t in event["tickers"]}
            if status and _event_status(statuses) != status:
                continue
            rows.append(exchange.event_json(ticker, nested=nested))
    return answer(200, page(rows, params, "events", default=200, maximum=200))


def _timestamp(params: Mapping[str, str], name: str) -> int | None:
    if not params.get(name):
        return None
    try:
        return int(params[name])
    except ValueError:
        raise validation_error(f"{name} must be a Unix timestamp in seconds") from None


MARKET_STATUSES = ("unopened", "open", "paused", "closed", "settled")
_BY_STATUS = {
    "unopened": ("initialized",),
    "open": ("active",),
    "closed": ("closed",),
    "settled": ("determined", "finalized"),
}


def _market_rows(exchange: Exchange, params: Mapping[str, str], *, historical: bool) -> list[dict[str, Any]]:
    """The markets ``GET /markets`` (or ``/historical/markets``) lists for ``params``, in listing order."""
    if params.get("event_ticker") and params.get("series_ticker"):
        raise validation_error("pass either event_ticker or series_ticker, not both")
    status = None if historical else params.get("status")
    if status and status not in MARKET_STATUSES:
        raise validation_error("status must be one of " + " ".join(MARKET_STATUSES))
    close = [_timestamp(params, n) for n in ("min_close_ts", "max_close_ts")]
    settled = [_timestamp(params, n) for n in ("min_settled_ts", "max_settled_ts")]
    if historical:
        close = settled = [None, None]
    if close != [None, None] and status not in (None, "closed"):
        raise validation_error("min_close_ts and max_close_ts go only with status closed or no status")
    if settled != [None, None] and status not in (None, "settled"):
        raise validation_error("min_settled_ts and max_settled_ts go only with status settled or no status")
    if close != [None, None] and settled != [None, None]:
        raise validation_error("close and settled timestamp filters cannot be combined")
    tickers = {t for t in params.get("tickers", "").split(",") if t}
    cutoff = exchange.historical_cutoff()
    rows = []
    for market in exchange.markets.values():
        if exchange.archived(market, cutoff) != historical:
            continue
        event = exchange.events[market.event_ticker]
        if tickers and market.ticker not in tickers:
            continue
        if params.get("event_ticker") and market.event_ticker != params["event_ticker"]:
            continue
        if params.get("series_ticker") and event["series_ticker"] != params["series_ticker"]:
            continue
        if status and market.status not in _BY_STATUS.get(status, (status,)):
            continue
        if not _within(market.close_time, *close) or not _within(market.settled_ts, *settled):
            continue
        rows.append(exchange.market_json(market))
    return rows


def _within(value: float | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    return value is not None and (low is None or value > low) and (high is None or value < high)


async def get_markets(request: Request) -> Response:
    exchange = _exchange(request)
    params = _params(request)
    with exchange.lock:
        rows = _market_rows(exchange, params, historical=False)
    return answer(200, page(rows, params, "markets"))


async def get_historical_markets(request: Request) -> Response:
    exchange = _exchange(request)
    params = _params(request)
    with exchange.lock:
        rows = _market_rows(exchange, params, historical=True)
    return answer(200, page(rows, params, "markets"))


async def historical_cutoff(request: Request) -> Response:
    exchange = _exchange(request)
    with exchange.lock:
        cutoff = iso_time(exchange.historical_cutoff())
    return answer(
        200, {"market_settled_ts": cutoff, "trades_created_ts": cutoff, "orders_updated_ts": cutoff}
    )


def _market(request: Request) -> SimMarket:
    ticker = request.path_params["ticker"]
    market = _exchange(request).markets.get(ticker)
    if market is None:
        raise std_error(404, "not_found", "market not found", ticker)
    return market


async def get_market(request: Request) -> Response:
    exchange = _exchange(request)
    with exchange.lock:
        return answer(200, {"market": exchange.market_json(_market(request))})


async def get_orderbook(request: Request) -> Response:
    exchange = _exchange(request)
    depth = _params(request).get("depth")
    with exchange.lock:
        market = _market(request)
        if depth is not None and not depth.isdigit():
            raise validation_error("depth must be a non-negative integer")
        return answer(200, exchange.orderbook_json(market, int(depth) if depth else None))


def _candle_params(params: Mapping[str, str]) -> tuple[int, int, int]:
    values = []
    for name in ("start_ts", "end_ts", "period_interval"):
        if not params.get(name):
            raise validation_error(
                f"Key: 'GetMarketCandlesticksRequest.{name}' Error:Field validation for '{name}' failed"
            )
        values.append(_timestamp(params, name))
    start, end, period = values
    if period not in PERIODS:
        raise validation_error("period_interval must be one of 1 60 1440")
    if start > end:
        raise validation_error("start_ts must not be after end_ts")
    return start, end, period


async def market_candlesticks(request: Request) -> Response:
    exchange = _exchange(request)
    start, end, period = _candle_params(_params(request))
    with exchange.lock:
        market = _market(request)
        series = exchange.events[market.event_ticker]["series_ticker"]
        if request.path_params["series_ticker"] != series:
            raise std_error(404, "not_found", "market not found in series", market.ticker)
        if exchange.archived(market, exchange.historical_cutoff()):
            raise std_error(
                404,
                "not_found",
                "market archived: use /historical/markets/{ticker}/candlesticks",
                market.ticker,
            )
        rows = exchange.candlesticks(market, start, end, period, historical=False)
    return answer(200, {"ticker": market.ticker, "candlesticks": rows})


def _archived_market(request: Request) -> SimMarket:
    exchange = _exchange(request)
    market = exchange.markets.get(request.path_params["ticker"])
    if market is None or not exchange.archived(market, exchange.historical_cutoff()):
        raise std_error(
            404, "not_found", "market not found in the historical data", request.path_params["ticker"]
        )
    return market


async def historical_market(request: Request) -> Response:
    exchange = _exchange(request)
    with exchange.lock:
        return answer(200, {"market": exchange.market_json(_archived_market(request))})


async def historical_candlesticks(request: Request) -> Response:
    exchange = _exchange(request)
    start, end, period = _candle_params(_params(request))
    with exchange.lock:
        market = _archived_market(request)
        rows = exchange.candlesticks(market, start, end, period, historical=True)
    return answer(200, {"ticker": market.ticker, "candlesticks": rows})


# ---- portfolio ------------------------------------------------------------------------------------------


async def create_order(request: Request) -> Response:
    account = _account(request)
    return answer(201, _exchange(request).create_order(account, await _json_body(request)))


async def cancel_order(request: Request) -> Response:
    account = _account(request)
    return answer(200, _exchange(request).cancel_order(account, request.path_params["order_id"]))


async def amend_order(request: Request) -> Response:
    account = _account(request)
    body = await _json_body(request)
    return answer(200, _exchange(request).amend_order(account, request.path_params["order_id"], body))


async def decrease_order(request: Request) -> Response:
    account = _account(request)
    body = await _json_body(request)
    return answer(200, _exchange(request).decrease_order(account, request.path_params["order_id"], body))


async def old_create_order(request: Request) -> Response:
    raise std_error(410, "deprecated_v1_order_endpoint", "use POST /portfolio/events/orders")


async def balance(request: Request) -> Response:
    account = _account(request)
    exchange = _exchange(request)
    with exchange.lock:
        return answer(200, account.balance_json(exchange.clock()))


async def positions(request: Request) -> Response:
    account = _account(request)
    params = _params(request)
    with _exchange(request).lock:
        sources = {
            "unsettled": account.positions,
            "settled": account.settled,
            "all": {**account.settled, **account.positions},
        }.get(params.get("settlement_status", "unsettled"))
        if sources is None:
            raise validation_error("settlement_status must be one of all settled unsettled")
        rows = [
            p.to_json(t)
            for t, p in sorted(sources.items())
            if not params.get("ticker") or t == params["ticker"]
            if not params.get("event_ticker") or in_event(t, params["event_ticker"])
        ]
    return answer(200, {**page(rows, params, "market_positions"), "event_positions": []})


async def orders(request: Request) -> Response:
    account = _account(request)
    params = _params(request)
    with _exchange(request).lock:
        rows = [
            o.to_json()
            for o in reversed(account.orders)
            if not params.get("ticker") or o.ticker == params["ticker"]
            if not params.get("event_ticker") or in_event(o.ticker, params["event_ticker"])
            if not params.get("status") or o.status == params["status"]
        ]
    return answer(200, page(rows, params, "orders"))


async def fills(request: Request) -> Response:
    account = _account(request)
    params = _params(request)
    with _exchange(request).lock:
        rows = [
            {k: v for k, v in f.items() if not k.startswith("_")}
            for f in reversed(account.fills)
            if not params.get("ticker") or f["ticker"] == params["ticker"]
            if not params.get("order_id") or f["order_id"] == params["order_id"]
        ]
    return answer(200, page(rows, params, "fills"))


async def settlements(request: Request) -> Response:
    account = _account(request)
    params = _params(request)
    with _exchange(request).lock:
        rows = [
            s
            for s in reversed(account.settlements)
            if not params.get("event_ticker") or s["event_ticker"] == params["event_ticker"]
        ]
    return answer(200, page(rows, params, "settlements"))


# ---- admin ----------------------------------------------------------------------------------------------


def _admin(handler: Callable[[Exchange, Any], tuple[int, Any]]) -> Handler:
    """An admin route: JSON in, JSON out, a malformed request answered 400 with what was wrong."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await _json_body(request) or {}
            return answer(*handler(_exchange(request), body))
        except ApiError as err:
            return answer(err.status, err.body)
        except (KeyError, ValueError, InvalidOperation, TypeError, AttributeError) as exc:
            return answer(400, {"msg": f"bad admin request: {exc}"})

    return endpoint


def _settle(exchange: Exchange, body: Any) -> tuple[int, Any]:
    return 200, {"settled": exchange.settle(body["event_ticker"], Decimal(str(body["value"])))}


def _register(exchange: Exchange, body: Any) -> tuple[int, Any]:
    exchange.register_key(
        body["key_id"], body["public_key_pem"].encode(), Decimal(str(body.get("balance_dollars", "1000")))
    )
    return 201, {"key_id": body["key_id"]}


def _add_faults(exchange: Exchange, body: Any) -> tuple[int, Any]:
    texts = body["faults"] if isinstance(body.get("faults"), list) else [body["fault"]]
    faults = [parse_fault(str(text)) for text in texts]  # all or none
    for fault in faults:
        exchange.faults.add(fault)
    return 201, {"faults": len(exchange.faults.faults)}


def _crowd_trade(exchange: Exchange, body: Any) -> tuple[int, Any]:
    count = body.get("count")
    fills = exchange.crowd_trade(
        body["ticker"], Decimal(str(body["yes_price"])), None if count is None else Decimal(str(count))
    )
    return 200, {"fills": fills}


def _clear_faults(exchange: Exchange, body: Any) -> tuple[int, Any]:
    exchange.faults.clear()
    return 200, {"faults": 0}


async def health(request: Request) -> Response:
    return answer(200, {"ok": True})


API_ROUTES = [
    Route("/exchange/status", exchange_status, methods=["GET"]),
    Route("/series/{series_ticker}", get_series, methods=["GET"]),
    Route("/events", get_events, methods=["GET"]),
    Route("/events/{event_ticker}", get_event, methods=["GET"]),
    Route("/markets", get_markets, methods=["GET"]),
    Route("/markets/{ticker}", get_market, methods=["GET"]),
    Route("/markets/{ticker}/orderbook", get_orderbook, methods=["GET"]),
    Route("/series/{series_ticker}/markets/{ticker}/candlesticks", market_candlesticks, methods=["GET"]),
    Route("/historical/cutoff", historical_cutoff, methods=["GET"]),
    Route("/historical/markets", get_historical_markets, methods=["GET"]),
    Route("/historical/markets/{ticker}", historical_market, methods=["GET"]),
    Route("/historical/markets/{ticker}/candlesticks", historical_candlesticks, methods=["GET"]),
    Route("/portfolio/orders", old_create_order, methods=["POST"]),
    Route("/portfolio/events/orders", create_order, methods=["POST"]),
    Route("/portfolio/events/orders/{order_id}", cancel_order, methods=["DELETE"]),
    Route("/portfolio/orders/{order_id}/amend", amend_order, methods=["POST"]),
    Route("/portfolio/orders/{order_id}/decrease", decrease_order, methods=["POST"]),
    Route("/portfolio/balance", balance, methods=["GET"]),
    Route("/portfolio/positions", positions, methods=["GET"]),
    Route("/portfolio/orders", orders, methods=["GET"]),
    Route("/portfolio/fills", fills, methods=["GET"]),
    Route("/portfolio/settlements", settlements, methods=["GET"]),
]
ADMIN_ROUTES = [
    Route("/sim/health", health, methods=["GET"]),
    Route("/sim/settle", _admin(_settle), methods=["POST"]),
    Route("/sim/keys", _admin(_register), methods=["POST"]),
    Route("/sim/faults", _admin(_add_faults), methods=["POST"]),
    Route("/sim/faults", _admin(_clear_faults), methods=["DELETE"]),
    Route("/sim/crowd/trade", _admin(_crowd_trade), methods=["POST"]),
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return answer(exc.status, exc.body)


async def _not_found(request: Request, exc: Exception) -> Response:
    path = request.scope["path"]
    if path.startswith(ADMIN_PREFIX):
        return answer(404, {"error": {"code": "not_found", "message": "not found", "details": path}})
    if path.startswith(API_PREFIX + "/portfolio/"):
        try:  # the portfolio asks for a signature before it says whether a path exists
            _account(request)
        except ApiError as err:
            return answer(err.status, err.body)
        path = path.removeprefix(API_PREFIX + "/portfolio/")
    return answer(404, std_error(404, "not_found", "not found", path).body)


class Gate:
    """Before any route: log the request, guard the admin paths, then play faults and rate limits."""

    def __init__(self, app: ASGIApp, exchange: Exchange, admin_token: str | None):
        self.app = app
        self.exchange = exchange
        # A blank token turns admin off, as an unset one does: else "Authorization: Bearer " would open it.
        self.admin_token = admin_token.strip() if admin_token and admin_token.strip() else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        exchange = self.exchange
        exchange.record(method, path)
        if path.startswith(ADMIN_PREFIX):
            refusal = self._admin_refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if path.startswith(API_PREFIX + "/") and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
        # The exchange's clock runs before any request: an order past its expiration_time is never seen.
        exchange.expire_due()
        # In a worker thread, as the threaded server did: a test may slow the exchange down here.
        delay, fault = await run_in_threadpool(exchange.take_fault, method, path)
        if delay:
            await asyncio.sleep(delay)
        identity = _header(scope, KEY_HEADER) or (scope.get("client") or ("local",))[0]
        if fault == "429" or not exchange.rate_ok(identity, "read" if method == "GET" else "write"):
            await answer(429, {"error": "too many requests"})(scope, receive, send)
            return
        if fault == "500":
            await answer(500, std_error(500, "internal_server_error", "internal server error").body)(
                scope, receive, send
            )
            return
        if fault not in ("drop_after", "500_after"):
            await self.app(scope, receive, send)
            return

        async def swallow(message: Message) -> None:
            """The exchange commits whatever it did; its answer goes nowhere."""

        await self.app(scope, receive, swallow)
        if fault == "500_after":
            body = {"error": {"code": "internal_server_error", "message": "internal", "details": ""}}
            await answer(500, body)(scope, receive, send)
            return
        # The client hears a status line, then the connection closes: the answer is lost.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})
        raise ResponseDropped(path)

    def _admin_refusal(self, scope: Scope) -> Response | None:
        if scope["path"] == "/sim/health":
            return None
        if self.admin_token is None:
            message = "admin endpoints are off: start the simulator with TSABOT_SIM_ADMIN_TOKEN set"
            return answer(403, std_error(403, "admin_disabled", message).body)
        given = (_header(scope, "authorization") or "").strip()
        # In constant time: how much of the token matched does not show in how long the answer takes.
        if not hmac.compare_digest(given.encode(), f"Bearer {self.admin_token}".encode()):
            return answer(401, std_error(401, "unauthorized", "admin token missing or wrong").body)
        return None


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def build_app(exchange: Exchange, admin_token: str | None = None) -> ASGIApp:
    """The simulator as an ASGI app: the Trade API under ``/trade-api/v2`` and admin under ``/sim/``."""
    routes = [Route(API_PREFIX + r.path, r.endpoint, methods=r.methods) for r in API_ROUTES]
    app = Starlette(
        routes=[*routes, *ADMIN_ROUTES],
        exception_handlers={ApiError: _api_error, HTTPException: _not_found},
    )
    app.state.exchange = exchange
    app.router.redirect_slashes = False
    return Gate(app, exchange, admin_token)
