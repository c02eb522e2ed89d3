"""Scripted misbehaviour: the failures a real exchange shows now and then, on demand.

A fault is written ``KIND[:OPTION=VALUE,...]`` (``tsabot simulator --fault``, ``POST /sim/faults``):

- ``latency``: answer ``ms`` milliseconds late (combines with any other fault);
- ``429``: answer "too many requests" without doing anything;
- ``500``: answer an internal error without doing anything;
- ``500_after``: do the request, then answer an internal error;
- ``drop_after``: do the request, then close the connection after the status line: the answer is lost.

Options: ``method=GET|POST|DELETE`` (default any), ``path=/portfolio/orders`` (a prefix under
``/trade-api/v2``; default every API path), ``times=N`` (only the next N matching requests), ``rate=P``
(each matching request with probability P, drawn from a seeded generator), ``ms=N`` (latency only).
Without ``times`` a fault lasts for good. Examples::

    latency:ms=150
    drop_after:method=POST,path=/portfolio/events/orders,times=1
    500:method=GET,path=/portfolio/orders,rate=0.5
    429:rate=0.1
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

KINDS = ("latency", "429", "500", "500_after", "drop_after")
METHODS = ("*", "GET", "POST", "DELETE")
SYNTAX = "KIND[:method=M,path=/prefix,times=N,rate=P,ms=N] with KIND one of " + " ".join(KINDS)


class FaultSyntaxError(ValueError):
    """A fault that does not parse; the message says which part and what is allowed."""


@dataclass
class Fault:
    """Requests matching ``method`` and ``path_prefix`` fail with ``action`` (or wait ``delay_s``)."""

    method: str
    path_prefix: str
    action: str
    times: int | None = 1  # None: for good
    rate: float = 1.0
    delay_s: float = 0.0

    def matches(self, method: str, api_path: str) -> bool:
        return (
            (self.method in ("*", method))
            and api_path.startswith(self.path_prefix)
            and (self.times is None or self.times > 0)
        )


def parse_fault(text: str) -> Fault:
    """``KIND[:OPTION=VALUE,...]`` as the module describes, or ``FaultSyntaxError`` naming the bad part."""
    kind, _, rest = text.strip().partition(":")
    if kind not in KINDS:
        raise FaultSyntaxError(f"unknown fault kind '{kind}' in '{text}'; expected {SYNTAX}")
    options: dict[str, str] = {}
    for part in filter(None, rest.split(",")):
        name, eq, value = part.partition("=")
        if not eq or name not in ("method", "path", "times", "rate", "ms") or name in options:
            raise FaultSyntaxError(f"bad option '{part}' in fault '{text}'; expected {SYNTAX}")
        options[name] = value.strip()
    method = options.get("method", "*").upper()
    if method not in METHODS:
        raise FaultSyntaxError(f"method must be GET, POST or DELETE in fault '{text}'")
    path = options.get("path", "")
    if path and not path.startswith("/"):
        raise FaultSyntaxError(f"path must start with / (under /trade-api/v2) in fault '{text}'")
    times = _number(options, "times", text, int, lambda v: v >= 1, "a whole number of at least 1")
    rate = _number(options, "rate", text, float, lambda v: 0 < v <= 1, "a probability in (0, 1]")
    ms = _number(options, "ms", text, float, lambda v: 0 <= v <= 600_000, "milliseconds, 0 to 600000")
    if (kind == "latency") != (ms is not None):
        raise FaultSyntaxError(f"ms= goes with latency, and latency needs ms=, in fault '{text}'")
    return Fault(
        method,
        path,
        kind,
        times=int(times) if times is not None else None,
        rate=rate if rate is not None else 1.0,
        delay_s=(ms or 0) / 1000,
    )


def _number(options: dict[str, str], name: str, text: str, kind: type, ok, what: str) -> float | None:
    if name not in options:
        return None
    try:
        value = kind(options[name])
    except ValueError:
        raise FaultSyntaxError(f"{name} must be {what} in fault '{text}'") from None
    if not (math.isfinite(value) and ok(value)):
        raise FaultSyntaxError(f"{name} must be {what} in fault '{text}'")
    return value


class FaultBook:
    """The faults in play; ``take`` decides, for one request, how late it is and how it fails."""

    def __init__(self, seed: int = 0):
        self.faults: list[Fault] = []
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def take(self, method: str, api_path: str) -> tuple[float, str | None]:
        """``(delay in seconds, failure or None)`` for a request to ``api_path`` (under the API prefix)."""
        delay, action = 0.0, None
        with self.lock:
            for fault in self.faults:
                if fault.action != "latency" and action is not None:
                    continue
                if not fault.matches(method, api_path):
                    continue
                if fault.rate < 1 and self.random.random() >= fault.rate:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                if fault.action == "latency":
                    delay += fault.delay_s
                else:
                    action = fault.action
        return delay, action
