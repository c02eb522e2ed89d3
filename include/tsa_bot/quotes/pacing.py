"""Stay under Kalshi's read rate limit instead of leaning on 429s.

The client retries a 429 with backoff, but a download of a year sends thousands of reads; pacing them at
the documented rate (about 20 reads a second on the basic tier) means the retries are for accidents.
The pacing is an httpx transport, so it covers every request the client sends: pages, retries and all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

DEFAULT_READS_PER_S = 10.0  # half the basic tier's budget: room for the trading run sharing the key


class PacedTransport(httpx.BaseTransport):
    """Sends at most ``rate`` requests a second through ``inner``, sleeping when ahead of schedule."""

    def __init__(
        self,
        rate: float,
        inner: httpx.BaseTransport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.inner = inner or httpx.HTTPTransport()
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self._sleep(wait)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
