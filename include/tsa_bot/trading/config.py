"""Trading configuration: the mode, the risk limits and sizing, and the guard on which host each mode may use.

- ``paper`` (default): market data from the Kalshi demo host or a local simulator; fills are simulated
  locally against the book; nothing is ever sent to an order endpoint.
- ``demo``: orders go to Kalshi's demo exchange (or a local simulator on a loopback address).
- ``live``: orders go to production. Refused unless enabled in the configuration *and* asked for in
  the run's params.

``paper`` and ``demo`` can never reach the production host: :func:`client_for_mode` builds their
client with ``allow_production=False``, which the client enforces before any request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tsa_bot.errors import ConfigurationError
from tsa_bot.kalshi.client import KalshiClient, KalshiSettings, host_of, is_demo_host, is_production_host

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class TradingMode(StrEnum):
    PAPER = "paper"
    DEMO = "demo"
    LIVE = "live"


@dataclass(frozen=True)
class RiskLimits:
    """Hard limits, checked before any order request. Money in dollars."""

    max_order_contracts: Decimal = Decimal(100)
    max_order_cost: Decimal = Decimal(50)
    max_contracts_per_market: Decimal = Decimal(200)
    max_event_exposure: Decimal = Decimal(200)
    max_total_exposure: Decimal = Decimal(500)
    max_daily_loss: Decimal = Decimal(100)
    kill_switch: bool = False


@dataclass(frozen=True)
class TradingConfig:
    mode: TradingMode = TradingMode.PAPER
    live_enabled: bool = False  # the configuration half of the live opt-in
    limits: RiskLimits = field(default_factory=RiskLimits)
    kelly_fraction: Decimal = Decimal("0.25")
    min_edge: Decimal = Decimal("0.02")  # per contract, after fees
    paper_bankroll: Decimal = Decimal(1000)
    time_in_force: str = "good_till_canceled"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TradingConfig:
        """Read ``TSABOT_TRADING_MODE``, ``TSABOT_LIVE_TRADING_ENABLED``, ``TSABOT_KILL_SWITCH``
        and ``TSABOT_MAX_*``."""
        env = os.environ if env is None else env

        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        def money(name: str, default: Decimal) -> Decimal:
            return Decimal(env[name]) if env.get(name) else default

        base = RiskLimits()
        limits = RiskLimits(
            max_order_contracts=money("TSABOT_MAX_ORDER_CONTRACTS", base.max_order_contracts),
            max_order_cost=money("TSABOT_MAX_ORDER_COST", base.max_order_cost),
            max_contracts_per_market=money("TSABOT_MAX_CONTRACTS_PER_MARKET", base.max_contracts_per_market),
            max_event_exposure=money("TSABOT_MAX_EVENT_EXPOSURE", base.max_event_exposure),
            max_total_exposure=money("TSABOT_MAX_TOTAL_EXPOSURE", base.max_total_exposure),
            max_daily_loss=money("TSABOT_MAX_DAILY_LOSS", base.max_daily_loss),
            kill_switch=flag("TSABOT_KILL_SWITCH"),
        )
        mode = env.get("TSABOT_TRADING_MODE", "paper").strip().lower()
        if mode not in TradingMode._value2member_map_:
            raise ConfigurationError(f"TSABOT_TRADING_MODE must be paper, demo or live, not '{mode}'")
        return cls(mode=TradingMode(mode), live_enabled=flag("TSABOT_LIVE_TRADING_ENABLED"), limits=limits)


def check_mode_host(mode: TradingMode, api_base: str) -> None:
    """Refuse a base URL that does not belong to the mode (a one-line ConfigurationError)."""
    host = host_of(api_base)
    local = host in LOOPBACK_HOSTS and urlsplit(api_base).scheme == "http"
    if mode is TradingMode.LIVE:
        if not is_production_host(api_base):
            raise ConfigurationError(f"live mode trades on production only, not on {host}")
        return
    if is_production_host(api_base):
        raise ConfigurationError(f"{mode} mode may never contact the production host {host}")
    if not (local or is_demo_host(api_base)):
        raise ConfigurationError(f"{mode} mode needs the Kalshi demo host or a local simulator, not {host}")


def live_allowed(config: TradingConfig, params: Mapping[str, Any]) -> bool:
    return config.mode is TradingMode.LIVE and config.live_enabled and params.get("live") is True


def client_for_mode(
    config: TradingConfig, params: Mapping[str, Any], settings: KalshiSettings | None = None, **kwargs: Any
) -> KalshiClient:
    """The one way trading builds a client. Only an opted-in live run may reach production."""
    settings = settings or KalshiSettings.from_env()
    if config.mode is TradingMode.LIVE and not live_allowed(config, params):
        raise ConfigurationError(
            "live trading needs TSABOT_LIVE_TRADING_ENABLED=1 in the configuration "
            "and live=true in the run params"
        )
    check_mode_host(config.mode, settings.api_base)
    kwargs["allow_production"] = config.mode is TradingMode.LIVE
    return KalshiClient(
        settings.api_base, settings.key_id, private_key_path=settings.private_key_path, **kwargs
    )
