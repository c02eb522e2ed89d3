"""The Kalshi client of a trading mode, with its guards: the one place trading builds a client.

- paper: read-only (only GETs leave the process), so it may read production's market data;
- demo: Kalshi's demo host or a local simulator, never production;
- live: production only, and only with both opt-ins (configuration and the run's params).

Which environments each mode may use is :data:`tsa_bot.kalshi.hosts.MODE_ENVIRONMENTS`. A backfill
run gets no client at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import TradingMode
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.hosts import Environment, KalshiSettings, check_mode_host


class ModeSettings(Protocol):
    """What the factories read of a run's trading configuration (``trading.config.TradingConfig``)."""

    @property
    def mode(self) -> TradingMode: ...

    @property
    def backfill(self) -> bool: ...

    @property
    def live_enabled(self) -> bool: ...


def live_allowed(config: ModeSettings, params: Mapping[str, Any]) -> bool:
    """Both live opt-ins: live mode enabled in the configuration and ``live=true`` in the run's params."""
    return config.mode is TradingMode.LIVE and config.live_enabled and params.get("live") is True


def guard(config: ModeSettings, client: KalshiClient, params: Mapping[str, Any]) -> None:
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
    config: ModeSettings,
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
    environment = check_mode_host(config.mode, settings.api_base)
    kwargs["read_only"] = config.mode is TradingMode.PAPER or read_only
    # The mode may use this environment (checked above): live's is production, and paper's client,
    # read-only, may read production too.
    kwargs["allow_production"] = environment is Environment.PRODUCTION
    return KalshiClient(
        settings.api_base,
        settings.key_id,
        private_key_pem=settings.private_key_pem,
        private_key_path=settings.private_key_path,
        **kwargs,
    )


@contextlib.contextmanager
def client_for_run(
    config: ModeSettings,
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
