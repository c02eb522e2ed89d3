"""Trading configuration: the mode, the risk limits and sizing, and the guard on which host each mode may use.

- ``paper`` (default): real market data (production, the demo host or a local simulator); fills are
  simulated locally against the book. Its client is *read-only*: it refuses any request but a GET
  before sending it, so no order or cancel can leave, whatever the host.
- ``demo``: orders go to Kalshi's demo exchange (or a local simulator on a loopback address). It can
  never reach production: its client is built with ``allow_production=False``, which the client
  enforces before any request.
- ``live``: orders go to production. Refused unless enabled in the configuration *and* asked for in
  the run's params.

The sizing policy is a name in :data:`tsa_bot.trading.policies.POLICIES`; the execution
(:class:`~tsa_bot.pricing.execution.Execution`: ``taker`` or ``maker``) says how its orders reach what it
wants to hold. A backfill run is always paper and
contacts no exchange at all (see ``trading.steps``). Which client each mode gets, and the guard on its host,
is :mod:`tsa_bot.kalshi.factories`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import TradingMode
from tsa_bot.pricing.execution import Execution
from tsa_bot.trading.policies import DEFAULT_POLICY, POLICIES
from tsa_bot.trading.risk import RiskLimits


def parse_policy(raw: Any, source: str) -> str:
    """The name of a policy of :data:`~tsa_bot.trading.policies.POLICIES` (``source`` names it in errors)."""
    name = str(raw).strip().lower()
    if name not in POLICIES:
        raise ConfigurationError(f"{source} must be one of {', '.join(POLICIES)}, not '{raw}'")
    return name


def parse_execution_setting(raw: Any, source: str) -> Execution:
    """``taker`` or ``maker`` (``source`` names the setting in errors)."""
    try:
        return Execution(str(raw).strip().lower())
    except ValueError:
        raise ConfigurationError(f"{source} must be taker or maker, not '{raw}'") from None


# The RiskLimits amounts; each is also read from TSABOT_<NAME> in the environment and <name> in params.
LIMIT_AMOUNTS = tuple(f.name for f in fields(RiskLimits) if f.name != "kill_switch")


def parse_amount(raw: Any, source: str, *, at_most: Decimal | None = None) -> Decimal:
    """A finite number >= 0 (and <= ``at_most``) from a string, int or float; ``source`` names it in errors.

    Floats go through ``str`` first, so 0.1 stays 0.1 rather than its binary expansion.
    """
    if isinstance(raw, bool):
        raise ConfigurationError(f"{source} must be a number, got {raw!r}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ConfigurationError(f"{source} must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0 or (at_most is not None and value > at_most):
        bound = f" and at most {at_most}" if at_most is not None else ""
        raise ConfigurationError(f"{source} must be a number >= 0{bound}, got {raw!r}")
    return value


@dataclass(frozen=True)
class TradingConfig:
    mode: TradingMode = TradingMode.PAPER
    live_enabled: bool = False  # the configuration half of the live opt-in
    limits: RiskLimits = field(default_factory=RiskLimits)
    kelly_fraction: Decimal = Decimal("0.25")
    min_edge: Decimal = Decimal("0.02")  # per contract, after fees
    paper_bankroll: Decimal = Decimal(1000)
    time_in_force: str = "good_till_canceled"
    backfill: bool = False  # a backfill run: paper, and no exchange contacted at all
    policy: str = DEFAULT_POLICY  # how decide sizes an event: a name in trading.policies.POLICIES
    market_weight: Decimal = Decimal("0.5")  # the market's weight in the blend (the replay learns it)
    execution: Execution = Execution.TAKER  # how orders reach the policy's holding (pricing.execution)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigurationError(f"policy must be one of {', '.join(POLICIES)}, not '{self.policy}'")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TradingConfig:
        """Read ``TSABOT_TRADING_MODE``, ``TSABOT_LIVE_TRADING_ENABLED``, ``TSABOT_KILL_SWITCH``,
        ``TSABOT_MAX_*``, ``TSABOT_POLICY`` and ``TSABOT_EXECUTION``."""
        env = os.environ if env is None else env

        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        def amount(name: str, default: Decimal) -> Decimal:
            variable = f"TSABOT_{name.upper()}"
            return parse_amount(env[variable], variable) if env.get(variable, "").strip() else default

        base = RiskLimits()
        limits = RiskLimits(
            **{name: amount(name, getattr(base, name)) for name in LIMIT_AMOUNTS},
            kill_switch=flag("TSABOT_KILL_SWITCH"),
        )
        mode = env.get("TSABOT_TRADING_MODE", "paper").strip().lower()
        if mode not in TradingMode._value2member_map_:
            raise ConfigurationError(f"TSABOT_TRADING_MODE must be paper, demo or live, not '{mode}'")
        policy = DEFAULT_POLICY
        if env.get("TSABOT_POLICY"):
            policy = parse_policy(env["TSABOT_POLICY"], "TSABOT_POLICY")
        execution = Execution.TAKER
        if env.get("TSABOT_EXECUTION", "").strip():
            execution = parse_execution_setting(env["TSABOT_EXECUTION"], "TSABOT_EXECUTION")
        return cls(
            mode=TradingMode(mode),
            live_enabled=flag("TSABOT_LIVE_TRADING_ENABLED"),
            limits=limits,
            policy=policy,
            execution=execution,
        )

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> TradingConfig:
        """The environment's configuration with the DAG run's params laid over it.

        Keys: ``mode``, ``kelly_fraction``, ``min_edge``, the ``max_*`` limits, ``kill_switch``,
        ``backfill``, ``policy``, ``market_weight``, ``execution`` (``live`` is read by
        ``kalshi.factories.live_allowed``).
        A missing or null key keeps the environment's value. Numbers may arrive as strings or floats
        (JSON): each goes through ``Decimal(str(x))``. A kill switch set in the environment cannot be
        turned off by a param. A backfill is always paper.
        """
        base = cls.from_env(env)
        params = params or {}

        def given(name: str) -> bool:
            return params.get(name) is not None and params.get(name) != ""

        def number(name: str, default: Decimal, *, at_most: Decimal | None = None) -> Decimal:
            return parse_amount(params[name], f"param {name}", at_most=at_most) if given(name) else default

        backfill = flag_value(params.get("backfill"), "backfill")
        mode = base.mode
        if given("mode"):
            name = str(params["mode"]).strip().lower()
            if name not in TradingMode._value2member_map_:
                raise ConfigurationError(f"param mode must be paper, demo or live, not '{params['mode']}'")
            mode = TradingMode(name)
        if backfill:
            mode = TradingMode.PAPER
        b = base.limits
        limits = RiskLimits(
            **{name: number(name, getattr(b, name)) for name in LIMIT_AMOUNTS},
            kill_switch=b.kill_switch or flag_value(params.get("kill_switch"), "kill_switch"),
        )
        return replace(
            base,
            mode=mode,
            limits=limits,
            kelly_fraction=number("kelly_fraction", base.kelly_fraction, at_most=Decimal(1)),
            min_edge=number("min_edge", base.min_edge, at_most=Decimal(1)),
            backfill=backfill,
            policy=parse_policy(params["policy"], "param policy") if given("policy") else base.policy,
            market_weight=number("market_weight", base.market_weight, at_most=Decimal(1)),
            execution=(
                parse_execution_setting(params["execution"], "param execution")
                if given("execution")
                else base.execution
            ),
        )


def flag_value(value: Any, name: str) -> bool:
    """A boolean param as JSON or a form may send it: true/false, 1/0, "true"/"false", null."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"param {name} must be true or false, got {value!r}")
