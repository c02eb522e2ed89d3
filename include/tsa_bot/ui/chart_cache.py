"""Drawn charts (and the page's one costly computation) kept until the data behind them changes.

A matplotlib chart of a year takes a tenth of a second or more to draw, and the page has two; the data
behind a chart changes once a day. So each result is kept under a fingerprint of exactly the input it was
made from: the same rows give the same fingerprint and the kept result; one changed value gives another
fingerprint and a fresh result, so nothing stale is ever served. Each cache holds a few entries (the
least recently used goes first) and is per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

V = TypeVar("V")
P = ParamSpec("P")

ENTRIES = 8  # per cache: the current data, and a few other warehouses or replays (tests, a second tab)
_ALL: list[FingerprintCache[Any]] = []


def fingerprint(value: Any) -> str:
    """A digest of JSON-like data (dicts, lists, numbers, strings, dates): equal data, equal digest."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class FingerprintCache(Generic[V]):
    """The latest results of one computation, each under the fingerprint of the input it came from."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self._entries = entries
        self._kept: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)

    def get_or_make(self, key: str, make: Callable[[], V]) -> V:
        """The result kept under ``key``, else ``make()``'s, kept (it is drawn outside the lock)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        value = make()
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


def cached_chart(draw: Callable[P, str]) -> Callable[P, str]:
    """``draw`` (a chart from JSON-like data) drawn once per distinct input, then read back."""
    cache: FingerprintCache[str] = FingerprintCache()

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> str:
        return cache.get_or_make(fingerprint([args, kwargs]), lambda: draw(*args, **kwargs))

    drawn.cache = cache  # type: ignore[attr-defined]
    return drawn


def clear_chart_caches() -> None:
    """Forget every kept result, as if the data had all changed: a cold page (for benchmarks)."""
    for cache in _ALL:
        cache.clear()
