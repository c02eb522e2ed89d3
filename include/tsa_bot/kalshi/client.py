"""A small Kalshi Trade API v2 client (httpx), modelled on Kalshi's starter ``clients.py``.

Retries: reads and cancels are retried on 429, 5xx and transport errors, with exponential backoff
inside a time budget. Creating an order is different: after an ambiguous failure (timeout, dropped
connection or 5xx once the request may have reached the exchange) the client looks the order up by
``client_order_id`` before sending it again, and a 409 means "the earlier attempt landed". Amending
works the same way, looking the order up by its ``updated_client_order_id``.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import SERIES, OrderBook
from tsa_bot.kalshi.auth import Signer, load_private_key, load_private_key_file
from tsa_bot.kalshi.errors import (
    DuplicateOrder,
    KalshiError,
    KalshiNotFound,
    KalshiProtocolError,
    KalshiRateLimited,
    KalshiServerError,
    KalshiUnavailable,
    ProductionHostRefused,
    error_for_status,
    parse_error_body,
)
from tsa_bot.kalshi.hosts import Environment, KalshiSettings, environment_of, host_of
from tsa_bot.kalshi.models import (
    AmendRequest,
    Balance,
    CanceledOrder,
    Event,
    ExchangeStatus,
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderRequest,
    PlacedOrder,
    Positions,
    Series,
    Settlement,
    count_str,
    parse_orderbook,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

ORDERS_V2 = "/portfolio/events/orders"
ORDERS = "/portfolio/orders"  # the listing, and amend/decrease of one order

# Tickers and order ids as Kalshi writes them. Anything else would change the path it is put in ("" lists
# every event, "../x" reaches another endpoint), so it is refused before a request is built.
_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def path_id(value: str, what: str) -> str:
    """``value`` if it can stand as one segment of an API path; else a one-line ConfigurationError."""
    if not isinstance(value, str) or not _PATH_ID.fullmatch(value):
        raise ConfigurationError(f"not a Kalshi {what}: {value!r}")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0
    budget_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the retry after ``attempt`` (1-based)."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class ReadOnlyClientError(ConfigurationError):
    """A read-only client was asked to send something other than a GET (an order, a cancel)."""


def _field(answer: Any, key: str, where: str) -> Any:
    if not isinstance(answer, dict) or key not in answer:
        raise KalshiProtocolError(f"Kalshi {where} answered without '{key}'")
    return answer[key]


class _Ambiguous(Exception):
    """The request may have reached the exchange, and we do not know what it did."""

    def __init__(self, cause: KalshiError):
        self.cause = cause


# The most pages one listing may take. KXTSAW lists about 20 markets a week, so every market of years of
# history is a few dozen pages of 200; a listing past 1,000 pages (200,000 rows) is a server looping on its
# cursor, not data.
MAX_PAGES = 1000


class KalshiClient:
    """Typed access to the endpoints this project uses. Use as a context manager, or call ``close``."""

    def __init__(
        self,
        base_url: str,
        key_id: str | None = None,
        *,
        private_key: rsa.RSAPrivateKey | None = None,
        private_key_pem: bytes | None = None,
        private_key_path: Path | None = None,
        allow_production: bool = False,
        read_only: bool = False,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.environment = environment_of(self.base_url)
        if self.environment is Environment.PRODUCTION and not allow_production:
            raise ProductionHostRefused(
                f"refusing to contact the production host {host_of(self.base_url)}: "
                "only live mode (or KALSHI_ALLOW_PRODUCTION=1 for the CLI) may"
            )
        self.allow_production = allow_production
        self.clock = clock  # the time the requests are signed with: the exchange's, within its skew
        # A read-only client (paper mode's, which may read production's market data) refuses every
        # request that is not a GET before it is built, let alone sent.
        self.read_only = read_only
        self._prefix = urlsplit(self.base_url).path
        if private_key is None and private_key_pem is not None:
            private_key = load_private_key(private_key_pem)
        if private_key is None and private_key_path is not None:
            private_key = load_private_key_file(private_key_path)
        if private_key is not None and not key_id:
            raise ConfigurationError("a Kalshi private key was given without its key id (KALSHI_KEY_ID)")
        self._signer = Signer(key_id, private_key, clock) if private_key is not None and key_id else None
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,  # a redirect could lead anywhere, production included
            headers={"Accept": "application/json", "User-Agent": "tsa-kalshi-bot"},
        )

    @classmethod
    def from_settings(cls, settings: KalshiSettings | None = None, **kwargs: Any) -> KalshiClient:
        settings = settings or KalshiSettings.from_env()
        kwargs.setdefault("allow_production", settings.allow_production)
        return cls(settings.api_base, settings.key_id, private_key_path=settings.private_key_path, **kwargs)

    def __repr__(self) -> str:
        key_id = self._signer.key_id if self._signer else None
        ro = ", read_only=True" if self.read_only else ""
        return f"KalshiClient({self.base_url!r}, key_id={key_id!r}{ro})"

    def __enter__(self) -> KalshiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- transport -----------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, body: Any, signed: bool
    ) -> Any:
        """One attempt. Raises typed errors; an ambiguous failure is wrapped in ``_Ambiguous``."""
        if self.read_only and method != "GET":
            raise ReadOnlyClientError(
                f"this Kalshi client is read-only (paper mode): refusing {method} {path} "
                f"to {host_of(self.base_url)}"
            )
        headers: dict[str, str] = {}
        if signed or self._signer is not None:
            if self._signer is None:
                raise ConfigurationError(
                    "this Kalshi request needs KALSHI_KEY_ID and KALSHI_PRIVATE_KEY_PATH"
                )
            headers.update(self._signer.headers(method, self._prefix + path))
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=clean, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never connected: the exchange saw nothing.
            raise KalshiUnavailable(f"cannot reach Kalshi at {host_of(self.base_url)}: {exc}") from None
        except httpx.TransportError as exc:
            raise _Ambiguous(
                KalshiUnavailable(f"Kalshi {method} {path}: connection lost ({type(exc).__name__})")
            ) from None
        log.debug("%s %s -> %s", method, path, response.status_code)
        if response.status_code >= 400:
            error = error_for_status(
                response.status_code, parse_error_body(response.text), f"{method} {path}"
            )
            if isinstance(error, KalshiServerError):
                raise _Ambiguous(error)
            raise error
        try:
            return response.json()
        except ValueError:
            raise KalshiProtocolError(f"Kalshi {method} {path} answered non-JSON") from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        signed: bool = False,
    ) -> Any:
        """A retried request: for reads and cancels, where repeating is harmless."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send(method, path, params=params, body=body, signed=signed)
            except _Ambiguous as amb:
                error: KalshiError = amb.cause
            except (KalshiRateLimited, KalshiUnavailable) as exc:
                error = exc
            self._backoff_or_raise(error, attempt, started)

    def _backoff_or_raise(self, error: KalshiError, attempt: int, started: float) -> None:
        delay = self.retry.delay(attempt)
        if attempt >= self.retry.attempts or time.monotonic() - started + delay > self.retry.budget_s:
            raise error
        log.info("Kalshi: %s; retry %d in %.2fs", error, attempt, delay)
        self._sleep(delay)

    def _pages(
        self, path: str, key: str, params: Mapping[str, Any], *, signed: bool, limit: int = 200
    ) -> Iterator[Any]:
        """Every item of a listing, following the cursor until it is empty; a server that repeats a cursor
        or pages past :data:`MAX_PAGES` is refused (``KalshiError``), never followed forever."""
        cursor, seen = None, set()
        for _ in range(MAX_PAGES):
            data = self._request(
                "GET", path, params={**params, "limit": limit, "cursor": cursor}, signed=signed
            )
            yield from data.get(key) or []
            cursor = data.get("cursor") or ""
            if not cursor:
                return
            if cursor in seen:
                raise KalshiProtocolError(
                    f"GET {path}: the exchange repeated the cursor {str(cursor)[:40]!r}; stopped after "
                    f"{len(seen) + 1} pages (a listing that never ends)"
                )
            seen.add(cursor)
        raise KalshiProtocolError(
            f"GET {path}: more than {MAX_PAGES} pages; stopped (a listing that never ends?)"
        )

    # ---- market data -----------------------------------------------------------------------------

    def exchange_status(self) -> ExchangeStatus:
        return ExchangeStatus.from_json(self._request("GET", "/exchange/status"))

    def series(self, series_ticker: str = SERIES) -> Series:
        return Series.from_json(
            self._request("GET", f"/series/{path_id(series_ticker, 'series ticker')}")["series"]
        )

    def event(self, event_ticker: str) -> Event:
        data = self._request(
            "GET", f"/events/{path_id(event_ticker, 'event ticker')}", params={"with_nested_markets": "true"}
        )
        return Event.from_json(data["event"], data.get("markets") if "markets" in data else None)

    def markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        page_size: int = 200,
    ) -> list[Market]:
        """Every market matching, following the cursor until it is empty."""
        params = {"event_ticker": event_ticker, "series_ticker": series_ticker, "status": status}
        return [
            Market.from_json(m)
            for m in self._pages("/markets", "markets", params, signed=False, limit=page_size)
        ]

    def market(self, ticker: str) -> Market:
        return Market.from_json(
            self._request("GET", f"/markets/{path_id(ticker, 'market ticker')}")["market"]
        )

    def orderbook(self, ticker: str, depth: int | None = None) -> OrderBook:
        data = self._request(
            "GET", f"/markets/{path_id(ticker, 'market ticker')}/orderbook", params={"depth": depth}
        )
        return parse_orderbook(ticker, data)

    # ---- portfolio -----------------------------------------------------------------------------

    def balance(self) -> Balance:
        return Balance.from_json(self._request("GET", "/portfolio/balance", signed=True))

    def positions(
        self, *, settlement_status: str | None = "unsettled", event_ticker: str | None = None
    ) -> Positions:
        markets: list[MarketPosition] = []
        events: list[Any] = []
        cursor = None
        while True:
            params = {"settlement_status": settlement_status, "event_ticker": event_ticker, "cursor": cursor}
            data = self._request("GET", "/portfolio/positions", params=params, signed=True)
            markets += [MarketPosition.from_json(p) for p in data.get("market_positions") or []]
            events += data.get("event_positions") or []
            cursor = data.get("cursor") or ""
            if not cursor:
                return Positions(tuple(markets), tuple(events))

    def orders(
        self, *, ticker: str | None = None, event_ticker: str | None = None, status: str | None = None
    ) -> list[Order]:
        params = {"ticker": ticker, "event_ticker": event_ticker, "status": status}
        return [Order.from_json(o) for o in self._pages("/portfolio/orders", "orders", params, signed=True)]

    def fills(self, *, ticker: str | None = None, order_id: str | None = None) -> list[Fill]:
        params = {"ticker": ticker, "order_id": order_id}
        return [Fill.from_json(f) for f in self._pages("/portfolio/fills", "fills", params, signed=True)]

    def settlements(self, *, event_ticker: str | None = None) -> list[Settlement]:
        params = {"event_ticker": event_ticker}
        pages = self._pages("/portfolio/settlements", "settlements", params, signed=True)
        return [Settlement.from_json(s) for s in pages]

    def find_order(self, client_order_id: str, ticker: str | None = None) -> Order | None:
        """The order with this ``client_order_id``, in any status, or None."""
        for order in self.orders(ticker=ticker):
            if order.client_order_id == client_order_id:
                return order
        return None

    # ---- orders (V2) -----------------------------------------------------------------------------

    def _post_at_most_once(
        self, path: str, body: Any, answer: Callable[[Any], T], landed: Callable[[], T | None], what: str
    ) -> T:
        """POST ``body`` so that it takes effect at most once, whatever the network does.

        429 and refused connections are retried as they are: the exchange did nothing. After anything
        ambiguous (a lost connection, a 5xx) ``landed`` looks on the exchange first and its finding is
        returned; if the lookup itself fails, the request is sent again, which is safe because the
        exchange refuses a repeat with 409. A 409 means an earlier attempt (or an earlier run with the same
        id) already did it: ``landed`` says what it did, and if it finds nothing the 409 is raised.
        """
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return answer(self._send("POST", path, params=None, body=body, signed=True))
            except DuplicateOrder as dup:
                found = landed()
                if found is None:
                    raise dup
                log.info("Kalshi: %s was already done", what)
                return found
            except _Ambiguous as amb:
                error: KalshiError = amb.cause
                try:
                    found = landed()
                except KalshiError as exc:
                    log.warning("Kalshi: looking up %s failed: %s", what, exc)
                    found = None
                if found is not None:
                    log.info("Kalshi: %s landed despite %s", what, error)
                    return found
            except (KalshiRateLimited, KalshiUnavailable) as exc:
                error = exc
            self._backoff_or_raise(error, attempt, started)

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        """Place an order at most once (``_post_at_most_once``), looked up by its ``client_order_id``; an
        order an earlier attempt or run placed is returned as the exchange has it."""

        def landed() -> PlacedOrder | None:
            existing = self.find_order(order.client_order_id, order.ticker)
            return None if existing is None else PlacedOrder.from_order(existing)

        return self._post_at_most_once(
            ORDERS_V2, order.to_json(), PlacedOrder.from_json, landed, f"order {order.client_order_id}"
        )

    def cancel_order(self, order_id: str) -> CanceledOrder:
        """Cancel; raises KalshiNotFound for an unknown or already-cancelled order."""
        return CanceledOrder.from_json(
            self._request("DELETE", f"{ORDERS_V2}/{path_id(order_id, 'order id')}", signed=True)
        )

    def cancel_if_resting(self, order_id: str) -> CanceledOrder | None:
        """Cancel, treating "already gone" (404) as done: what a retried cancel sees."""
        try:
            return self.cancel_order(order_id)
        except KalshiNotFound:
            return None

    def amend_order(self, order_id: str, request: AmendRequest) -> Order:
        """Move a resting order to ``request.price`` with ``request.count`` max fillable; the amended order.

        At most once (``_post_at_most_once``): the amend has landed if the order is found under
        ``updated_client_order_id`` with the new price; otherwise it is sent again within the retry policy
        (the exchange answers a repeat of an amend that landed with the order unchanged). A 400 (``post
        only cross``, a count not above what has filled) raises its typed error at once; a 404 means the
        order no longer rests (filled or cancelled).
        """
        path = f"{ORDERS}/{path_id(order_id, 'order id')}/amend"

        def answer(body: Any) -> Order:
            return Order.from_json(_field(body, "order", f"POST {path}"))

        def landed() -> Order | None:
            found = self.find_order(request.updated_client_order_id, request.ticker)
            if found is None or found.order_id != order_id or found.yes_price_dollars != request.price:
                return None
            return found

        return self._post_at_most_once(path, request.to_json(), answer, landed, f"amend of {order_id}")

    def decrease_order(self, order_id: str, *, reduce_to: Decimal) -> Order:
        """Leave ``reduce_to`` contracts resting (0 cancels), keeping queue priority; the order after.

        Retried like a cancel: repeating ``reduce_to`` is harmless. A 404 after an ambiguous attempt (the
        earlier attempt cancelled it, or it filled) returns the order as the listing shows it.
        """
        path = f"{ORDERS}/{path_id(order_id, 'order id')}/decrease"
        body = {"reduce_to_fp": count_str(reduce_to)}
        started = time.monotonic()
        attempt = 0
        ambiguous = False
        while True:
            attempt += 1
            try:
                answer = self._send("POST", path, params=None, body=body, signed=True)
                return Order.from_json(_field(answer, "order", f"POST {path}"))
            except KalshiNotFound:
                gone = self._order_by_id(order_id) if ambiguous else None
                if gone is None:
                    raise
                return gone
            except _Ambiguous as amb:
                error: KalshiError = amb.cause
                ambiguous = True
            except (KalshiRateLimited, KalshiUnavailable) as exc:
                error = exc
            self._backoff_or_raise(error, attempt, started)

    def _order_by_id(self, order_id: str) -> Order | None:
        return next((o for o in self.orders() if o.order_id == order_id), None)

    # ---- quote history (events, markets by close time, candlesticks, the historical archive) -----------
    # Models are imported here, not in the import block above, to keep this addition self-contained.

    def events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        page_size: int = 200,
    ) -> list[Event]:
        """``GET /events``: every event matching (archived ones included), following the cursor."""
        params = {"series_ticker": series_ticker, "status": status, "min_close_ts": min_close_ts}
        return [
            Event.from_json(e)
            for e in self._pages("/events", "events", params, signed=False, limit=page_size)
        ]

    def markets_closing(
        self,
        *,
        series_ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        page_size: int = 1000,
    ) -> list[Market]:
        """``GET /markets`` filtered by close time (unix seconds); archived markets are not listed."""
        params = {
            "series_ticker": series_ticker,
            "event_ticker": event_ticker,
            "status": status,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
        }
        pages = self._pages("/markets", "markets", params, signed=False, limit=page_size)
        return [Market.from_json(m) for m in pages]

    def market_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int
    ) -> list[Any]:
        """``GET /series/{s}/markets/{t}/candlesticks``: candles ending in [start_ts, end_ts] (unix s)."""
        from tsa_bot.kalshi.models import Candlestick

        params = {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval}
        series, market = path_id(series_ticker, "series ticker"), path_id(ticker, "market ticker")
        data = self._request("GET", f"/series/{series}/markets/{market}/candlesticks", params=params)
        return [Candlestick.from_json(c) for c in data.get("candlesticks") or []]

    def historical_cutoff(self) -> Any:
        """``GET /historical/cutoff``: markets settled before its ``market_settled_ts`` are archived."""
        from tsa_bot.kalshi.models import HistoricalCutoff

        return HistoricalCutoff.from_json(self._request("GET", "/historical/cutoff"))

    def historical_markets(
        self,
        *,
        series_ticker: str | None = None,
        event_ticker: str | None = None,
        tickers: list[str] | None = None,
        page_size: int = 1000,
    ) -> list[Market]:
        """``GET /historical/markets``: archived markets (the filters are mutually exclusive)."""
        params = {
            "series_ticker": series_ticker,
            "event_ticker": event_ticker,
            "tickers": ",".join(tickers) if tickers else None,
        }
        pages = self._pages("/historical/markets", "markets", params, signed=False, limit=page_size)
        return [Market.from_json(m) for m in pages]

    def historical_market_candlesticks(
        self, ticker: str, *, start_ts: int, end_ts: int, period_interval: int
    ) -> list[Any]:
        """``GET /historical/markets/{t}/candlesticks``: an archived market's candles ending in the range."""
        from tsa_bot.kalshi.models import Candlestick

        params = {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval}
        data = self._request(
            "GET", f"/historical/markets/{path_id(ticker, 'market ticker')}/candlesticks", params=params
        )
        return [Candlestick.from_json(c) for c in data.get("candlesticks") or []]
