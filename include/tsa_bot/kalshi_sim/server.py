"""Serving the simulator: on uvicorn in a thread for tests (``running_simulator``), or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.kalshi_sim.app import ResponseDropped, build_app
from tsa_bot.kalshi_sim.exchange import API_PREFIX, Exchange
from tsa_bot.kalshi_sim.history import HistorySeed
from tsa_bot.kalshi_sim.seed import EventSeed


class _QuietDrops(logging.Filter):
    """A scripted dropped answer is the simulator doing its job, not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ResponseDropped))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0 picks a free port); raises ``OSError`` if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn, polling every 10 ms instead of 100: tests start and stop hundreds of simulators."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + self.config.timeout_graceful_shutdown
        while (self.server_state.connections or self.server_state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in self.server_state.tasks:
            task.cancel()


def make_server(exchange: Exchange, admin_token: str | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(exchange, admin_token),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return _Server(config)


@dataclass
class RunningSimulator:
    exchange: Exchange
    host: str
    port: int
    admin_token: str | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    def register_key(
        self, key_id: str, public_key: rsa.RSAPublicKey | bytes, balance: Decimal | int | str = 1000
    ) -> None:
        self.exchange.register_key(key_id, public_key, Decimal(balance))

    def settle(self, event_ticker: str, value: int | Decimal) -> list[dict[str, Any]]:
        return self.exchange.settle(event_ticker, value)

    def inject(self, method: str, path_prefix: str, action: str, times: int = 1) -> None:
        self.exchange.inject(method, path_prefix, action, times)

    def seed_week(self, day: date, center: int = 2_300_000, **kwargs: Any) -> str:
        """List the KXTSAW event of the week containing ``day``; returns its ticker."""
        seed = EventSeed.for_week(day, center, **kwargs)
        self.exchange.seed_event(seed)
        return seed.event_ticker

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call an admin endpoint (``/sim/...``) over HTTP with this simulator's admin token."""
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        return httpx.request(method, self.root_url + path, json=body, headers=headers, timeout=10)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request served so far, ``(method, path)``, admin ones included."""
        with self.exchange.lock:
            return list(self.exchange.requests)


@contextlib.contextmanager
def running_simulator(
    seed: EventSeed | None = None,
    *,
    read_rate: float = 20.0,
    write_rate: float = 10.0,
    clock: Callable[[], float] = time.time,
    admin_token: str | None = None,
    history: HistorySeed | None = None,
    cutoff: float | None = None,
) -> Iterator[RunningSimulator]:
    """Serve a fresh exchange on 127.0.0.1 on a free port, in a thread, for the ``with`` block.

    The admin endpoints take ``admin_token`` (a fresh random one by default; ``RunningSimulator.admin``
    sends it). ``history`` hosts past weeks with their candlesticks (see ``Exchange``).
    """
    exchange = Exchange(
        seed, read_rate=read_rate, write_rate=write_rate, clock=clock, history=history, cutoff=cutoff
    )
    token = admin_token or secrets.token_urlsafe(24)
    sock = bind("127.0.0.1", 0)
    server = make_server(exchange, token)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kalshi-sim", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Kalshi simulator did not start")
            time.sleep(0.005)
        yield RunningSimulator(exchange, "127.0.0.1", sock.getsockname()[1], token)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
