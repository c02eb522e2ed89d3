"""A local Kalshi exchange that speaks the Trade API v2 as kalshi-api.md describes it.

It is a real exchange in miniature: signed requests checked against registered public keys, a limit
order book per market matched at price-time priority, Kalshi's fees, ``client_order_id`` uniqueness
forever (409), the tick grid, balance checks, token-bucket rate limits (429) and settlement.

- ``seed.py``: what is listed (``EventSeed``; ``EventSeed.for_week``, ``tsabot simulator --seed-week DATE``);
- ``exchange.py``: the state and rules, without HTTP;
- ``crowd.py``, ``history.py``, ``candles.py``: past weeks (``HistorySeed``) priced by a crowd that sees
  the truth through noise, and their candlesticks;
- ``app.py``: the HTTP layer, a Starlette route table;
- ``server.py``: serving it (``running_simulator`` for tests, ``tsabot simulator`` for people);
- ``commands.py``: the ``tsabot simulator`` command.

Admin endpoints live under ``/sim/`` (outside ``/trade-api/v2``) and need the admin token given at start
(``Authorization: Bearer TOKEN``): ``POST /sim/keys`` registers a public key with a balance,
``POST /sim/settle`` settles an event from the week's value; ``GET /sim/health`` is open. Every request
served is logged in ``Exchange.requests`` as ``(method, path)``.
"""

from tsa_bot.kalshi_sim.crowd import CrowdParams, WeekCrowd
from tsa_bot.kalshi_sim.errors import ApiError, decode_error, std_error, validation_error
from tsa_bot.kalshi_sim.exchange import API_PREFIX, HOUSE, Account, Exchange, SimMarket, SimOrder
from tsa_bot.kalshi_sim.history import HistorySeed
from tsa_bot.kalshi_sim.seed import EventSeed, market_ticker, sunday_of
from tsa_bot.kalshi_sim.server import RunningSimulator, make_server, running_simulator

__all__ = [
    "API_PREFIX",
    "HOUSE",
    "Account",
    "ApiError",
    "CrowdParams",
    "EventSeed",
    "Exchange",
    "HistorySeed",
    "RunningSimulator",
    "SimMarket",
    "SimOrder",
    "WeekCrowd",
    "decode_error",
    "make_server",
    "market_ticker",
    "running_simulator",
    "std_error",
    "sunday_of",
    "validation_error",
]
