"""A scripted Kalshi for unit tests of the downloader: the real client over an httpx MockTransport.

It answers the market-data endpoints the downloader uses, with the spec's field names (live candles in
``*_dollars``/``*_fp``, archived ones in bare names), cursor pagination, and a fault switch per ticker.
The end-to-end tests use the simulator over real HTTP instead.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tsa_bot.kalshi.client import KalshiClient, RetryPolicy

PREFIX = "/trade-api/v2"
FAST_RETRY = RetryPolicy(attempts=2, backoff_s=0.001, max_backoff_s=0.002, budget_s=1.0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def market_json(
    ticker: str, event: str, strike: int, opens: datetime, closes: datetime, result: str = ""
) -> dict:
    return {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "status": "finalized" if result else "active",
        "open_time": _iso(opens),
        "close_time": _iso(closes),
        "yes_bid_dollars": "0.4500",
        "yes_ask_dollars": "0.4800",
        "last_price_dollars": "0.4600",
        "volume_fp": "10.00",
        "open_interest_fp": "5.00",
        "strike_type": "greater",
        "floor_strike": strike,
        "result": result,
        "expiration_value": "2312345" if result else "",
    }


def candle_json(end: datetime, bid: str, *, archived: bool) -> dict:
    dollars, count = ("", "") if archived else ("_dollars", "_fp")

    def ohlc(close: str) -> dict:
        return {f"{k}{dollars}": close for k in ("open", "high", "low", "close")}

    return {
        "end_period_ts": int(end.timestamp()),
        "yes_bid": ohlc(bid),
        "yes_ask": ohlc("0.5500"),
        "price": {f"{k}{dollars}": None for k in ("open", "high", "low", "close", "mean", "previous")},
        f"volume{count}": "1.00",
        f"open_interest{count}": "2.00",
    }


@dataclass
class FakeKalshi:
    cutoff: datetime
    live: list[dict] = field(default_factory=list)
    archived: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    candles: dict[str, list[dict]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def add_event(
        self,
        event: str,
        strikes: list[int],
        opens: datetime,
        closes: datetime,
        *,
        archived: bool,
        result: str = "",
        period: int = 60,
    ) -> list[str]:
        self.events.append(
            {
                "event_ticker": event,
                "series_ticker": "KXTSAW",
                "title": f"TSA {event}",
                "strike_date": _iso(closes),
            }
        )
        tickers = []
        for n, strike in enumerate(strikes):
            ticker = f"{event}-A{strike / 1e6:.2f}"
            tickers.append(ticker)
            (self.archived if archived else self.live).append(
                market_json(ticker, event, strike, opens, closes, result)
            )
            end, step, candles = opens, timedelta(minutes=period), []
            while end + step <= closes:
                end += step
                candles.append(candle_json(end, f"0.{40 + n:02d}00", archived=archived))
            self.candles[ticker] = candles
        return tickers

    def client(self, **kwargs: Any) -> KalshiClient:
        kwargs.setdefault("retry", FAST_RETRY)
        # A loopback address passes the client's host guard; the mock transport answers, nothing connects.
        return KalshiClient(
            "http://127.0.0.1:9" + PREFIX, transport=httpx.MockTransport(self.handle), **kwargs
        )

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(PREFIX)
        params = dict(request.url.params)
        self.requests.append((path, params))
        parts = path.strip("/").split("/")
        if path == "/historical/cutoff":
            stamp = _iso(self.cutoff)
            return httpx.Response(
                200, json={"market_settled_ts": stamp, "trades_created_ts": stamp, "orders_updated_ts": stamp}
            )
        if path == "/markets":
            lo, hi = int(params.get("min_close_ts", 0)), int(params.get("max_close_ts", 1 << 40))
            rows = [
                m
                for m in self.live
                if lo <= datetime.fromisoformat(m["close_time"]).timestamp() <= hi
                and m["event_ticker"].startswith(params["series_ticker"] + "-")
            ]
            return self._page(rows, params, "markets")
        if path == "/historical/markets":
            return self._page(self.archived, params, "markets")
        if path == "/events":
            return self._page(self.events, params, "events")
        if parts[-1] == "candlesticks":
            ticker = parts[-2]
            if ticker in self.failing:
                return httpx.Response(500, json={"error": {"code": "internal_server_error", "message": "x"}})
            archived = parts[0] == "historical"
            if archived != any(m["ticker"] == ticker for m in self.archived):
                return httpx.Response(404, json={"error": {"code": "not_found", "message": "not found"}})
            lo, hi = int(params["start_ts"]), int(params["end_ts"])
            rows = [c for c in self.candles[ticker] if lo <= c["end_period_ts"] <= hi]
            return httpx.Response(200, json={"ticker": ticker, "candlesticks": rows})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "not found"}})

    @staticmethod
    def _page(rows: list[dict], params: dict[str, str], key: str) -> httpx.Response:
        limit = int(params.get("limit") or 100)
        start = int(base64.b64decode(params["cursor"])) if params.get("cursor") else 0
        end = start + limit
        cursor = base64.b64encode(str(end).encode()).decode() if end < len(rows) else ""
        return httpx.Response(200, json={key: rows[start:end], "cursor": cursor})
