"""The Kalshi client of a trading mode, with its guards: the one place trading builds a client.

- paper: read-only (only GETs leave the process), so it may read production's market data;
- demo: Kalshi's demo host or a local simulator, never production;
- live: production only, and only with both opt-ins (configuration and the run's params).

A backfill run gets no client at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.kalshi.client import HostKind, KalshiClient, KalshiSettings, host_kind, host_of
from tsa_bot.kalshi.errors import UnknownHostRefused
from tsa_bot.trading.config import TradingConfig, TradingMode, live_allowed


def check_mode_host(mode: TradingMode, api_base: str) -> None:
    """Refuse a base URL that does not belong to the mode (a one-line ConfigurationError).

    Hosts are compared as httpx will contact them (see :func:`tsa_bot.kalshi.client.host_of`). Paper may
    read production's market data (through a read-only client); demo never reaches production; live
    trades on production only. Paper and demo may use Kalshi's demo host, a loopback simulator, or a
    simulator host named in ``TSABOT_SIMULATOR_HOSTS`` (docker-compose's ``simulator``).
    """
    host = host_of(api_base)
    try:
        kind = host_kind(api_base)
    except UnknownHostRefused as exc:
        if mode is TradingMode.LIVE:
            raise ConfigurationError(f"live mode trades on production only, not on {host}") from None
        raise ConfigurationError(
            f"{mode} mode needs the Kalshi demo host or a local simulator: {exc}"
        ) from None
    if mode is TradingMode.LIVE:
        if kind is not HostKind.PRODUCTION:
            raise ConfigurationError(f"live mode trades on production only, not on {host}")
        return
    if kind is HostKind.PRODUCTION and mode is not TradingMode.PAPER:
        raise ConfigurationError(f"{mode} mode may never contact the production host {host}")


def guard(config: TradingConfig, client: KalshiClient, params: Mapping[str, Any]) -> None:
    """Defence in depth for a client built elsewhere: mode, host and production switch must agree."""
    check_mode_host(config.mode, client.base_url)
    if config.mode is TradingMode.LIVE:
        if not live_allowed(config, params):
            raise ConfigurationError(
                "live trading needs TSABOT_LIVE_TRADING_ENABLED=1 and live=true in the params"
            )
    elif client.allow_production and not (config.mode is TradingMode.PAPER and client.read_only):
        # Paper may read production's market data, but only through a client that cannot send.
        raise ConfigurationError(f"a {config.mode} run was given a client allowed to reach production")


def client_for_mode(
    config: TradingConfig,
    params: Mapping[str, Any],
    settings: KalshiSettings | None = None,
    *,
    read_only: bool = False,
    **kwargs: Any,
) -> KalshiClient:
    """The one way trading builds a client.

    Only an opted-in live run may send orders to production. A paper run's client is read-only (it
    can only GET), so it may read production's market data; a demo run's can never reach production.
    A backfill run gets no client at all. ``read_only=True`` asks for a GET-only client in any mode.
    """
    if config.backfill:
        raise ConfigurationError("a backfill run contacts no exchange: it has no Kalshi client")
    settings = settings or KalshiSettings.from_env()
    if config.mode is TradingMode.LIVE and not live_allowed(config, params):
        raise ConfigurationError(
            "live trading needs TSABOT_LIVE_TRADING_ENABLED=1 in the configuration "
            "and live=true in the run params"
        )
    check_mode_host(config.mode, settings.api_base)
    paper = config.mode is TradingMode.PAPER
    kwargs["read_only"] = paper or read_only
    kwargs["allow_production"] = config.mode is TradingMode.LIVE or (
        paper and host_kind(settings.api_base) is HostKind.PRODUCTION
    )
    return KalshiClient(
        settings.api_base,
        settings.key_id,
        private_key_pem=settings.private_key_pem,
        private_key_path=settings.private_key_path,
        **kwargs,
    )


@contextlib.contextmanager
def client_for_run(
    config: TradingConfig,
    params: Mapping[str, Any],
    kalshi: KalshiSettings | None,
    *,
    needed: bool = True,
    read_only: bool = False,
) -> Iterator[KalshiClient | None]:
    """The mode's client for one step, or None where the step needs none (a backfill; paper after fetch)."""
    if config.backfill or not needed:
        yield None
        return
    with client_for_mode(config, params, kalshi, read_only=read_only) as client:
        yield client
