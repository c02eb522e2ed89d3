"""Stay under Kalshi's read rate limit instead of leaning on 429s.

The client retries a 429 with backoff, but a download of a year sends thousands of reads; pacing them at
the documented rate (about 20 reads a second on the basic tier) means the retries are for accidents.
The pacing is an httpx transport, so it covers every request the client sends: pages, retries and all.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import httpx

from tsa_bot.core.errors import ConfigurationError

DEFAULT_READS_PER_S = 10.0  # half the basic tier's budget: room for the trading run sharing the key
# What ``--read-rate`` may be. Kalshi's hosts: at most the basic tier's documented read budget (about 20 a
# second, docs/kalshi-api.md); more is answered with 429s. A local simulator has only its own limit, so
# tests may go faster. The floor keeps a year's download (about a thousand reads) under three hours, and
# the interval between reads a number ``time.sleep`` takes (1e-300 a second overflowed it).
KALSHI_MAX_READS_PER_S = 20.0
SIMULATOR_MAX_READS_PER_S = 1000.0
MIN_READS_PER_S = 0.1


def check_read_rate(rate: float, *, kalshi_host: bool, flag: str = "--read-rate") -> float:
    """``rate`` if it is a finite number of reads a second within the limit for the host; else one line."""
    ceiling = KALSHI_MAX_READS_PER_S if kalshi_host else SIMULATOR_MAX_READS_PER_S
    if not (math.isfinite(rate) and MIN_READS_PER_S <= rate <= ceiling):
        whose = "Kalshi's basic-tier limit" if kalshi_host else "a local simulator's"
        raise ConfigurationError(
            f"{flag} must be {MIN_READS_PER_S:g} to {ceiling:g} reads a second ({whose}), got {rate:g}"
        )
    return rate


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
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be positive and finite, got {rate}")
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
