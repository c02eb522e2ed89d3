"""A local Kalshi exchange that speaks the Trade API v2 as kalshi-api.md describes it.

It is a real exchange in miniature: signed requests checked against registered public keys, a limit
order book per market matched at price-time priority, Kalshi's fees, ``client_order_id`` uniqueness
forever (409), the tick grid, balance checks, token-bucket rate limits (429) and settlement.

- ``seed.py``: what is listed (``EventSeed``; ``EventSeed.for_week``, ``tsabot simulator --seed-week DATE``);
- ``exchange.py``: the rules, without HTTP; ``state.py`` its records (orders, positions, accounts, markets),
  ``market_data.py`` what it shows of a market, ``orders.py`` the checks on an order request (create,
  amend, decrease), ``resting.py`` what happens to a resting order (amend, decrease, admin crowd trades),
  ``crowd_fills.py`` the clock moving on (expiry, and the crowd's tape filling resting orders as maker);
- ``crowd.py``, ``history.py``, ``candles.py``: past weeks (``HistorySeed``) priced by a crowd that blends
  the public YoY forecast with its own view of the truth, quoting in Kalshi's shapes, and their candlesticks;
- ``history_rows.py``: those candlesticks as quote interchange rows, offline (``history_quote_rows``);
- ``app.py``: the HTTP layer, a Starlette route table;
- ``server.py``: serving it (``running_simulator`` for tests, ``tsabot simulator`` for people);
- ``commands.py``: the ``tsabot simulator`` command.

Admin endpoints live under ``/sim/`` (outside ``/trade-api/v2``) and need the admin token given at start
(``Authorization: Bearer TOKEN``): ``POST /sim/keys`` registers a public key with a balance,
``POST /sim/settle`` settles an event from the week's value, ``POST /sim/faults`` (``DELETE`` clears)
scripts failures, ``POST /sim/crowd/trade`` ``{ticker, yes_price, count?}`` has the house take every
resting order strictly through ``yes_price`` (maker fills for their owners); ``GET /sim/health`` is open.
Every request served is logged in ``Exchange.requests`` as ``(method, path)``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load on first use: ``tsabot`` imports the simulator command's arguments on every run, and
# the exchange, numpy and the web server stay unloaded unless the simulator is used.
_HOMES = {
    "ApiError": "errors",
    "decode_error": "errors",
    "std_error": "errors",
    "validation_error": "errors",
    "CrowdParams": "crowd",
    "WeekCrowd": "crowd",
    "API_PREFIX": "exchange",
    "MAX_SKEW_MS": "exchange",
    "Exchange": "exchange",
    "HOUSE": "state",
    "Account": "state",
    "SimMarket": "state",
    "SimOrder": "state",
    "SimPosition": "state",
    "TokenBucket": "state",
    "Fault": "faults",
    "parse_fault": "faults",
    "HistorySeed": "history",
    "history_quote_rows": "history_rows",
    "truth_of": "history_rows",
    "EventSeed": "seed",
    "RunningSimulator": "server",
    "make_server": "server",
    "running_simulator": "server",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
