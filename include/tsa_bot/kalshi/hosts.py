"""Where a Kalshi API base URL leads, and which trading modes may go there: the adapter's one vocabulary.

Every base URL belongs to one :class:`Environment` (Kalshi's production, Kalshi's demo, or a local
simulator) or is refused. :data:`MODE_ENVIRONMENTS` says which modes may use which:

- paper: any environment, production included, because its client is read-only (only GETs leave);
- demo: Kalshi's demo host or a local simulator, never production;
- live: production only (and only with both opt-ins, see :mod:`tsa_bot.kalshi.factories`).

Hosts are read as httpx will contact them (:func:`host_of`), so look-alike spellings (IDNA dots such as
``。``, upper case, a trailing dot, a port) land in the environment they really reach.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import TradingMode
from tsa_bot.kalshi.errors import UnknownHostRefused

PRODUCTION_BASE = "https://external-api.kalshi.com/trade-api/v2"
DEMO_BASE = "https://external-api.demo.kalshi.co/trade-api/v2"
# Production lives under kalshi.com; demo under kalshi.co. Blocking the whole domain also blocks
# hosts Kalshi may add later.
PRODUCTION_DOMAIN = "kalshi.com"
DEMO_DOMAIN = "kalshi.co"

LOOPBACK_NAMES = ("localhost",)
# Names of local simulators other than loopback (docker-compose's service name, say), comma-separated.
SIMULATOR_HOSTS_VAR = "TSABOT_SIMULATOR_HOSTS"


class Environment(StrEnum):
    """The exchange a base URL reaches."""

    PRODUCTION = "production"  # Kalshi's real exchange, under kalshi.com
    DEMO = "demo"  # Kalshi's demo exchange, under kalshi.co
    SIMULATOR = "simulator"  # a local simulator: loopback, or a host named in TSABOT_SIMULATOR_HOSTS


# Which environments each trading mode may use. Paper may read production because its client is
# read-only; demo never reaches production; live trades on production only.
MODE_ENVIRONMENTS: Mapping[TradingMode, frozenset[Environment]] = {
    TradingMode.PAPER: frozenset(Environment),
    TradingMode.DEMO: frozenset({Environment.DEMO, Environment.SIMULATOR}),
    TradingMode.LIVE: frozenset({Environment.PRODUCTION}),
}


def host_of(base_url: str) -> str:
    """The host as httpx will connect to it: IDNA-mapped (``。`` is a dot), lower case, no trailing dot.

    Reading the host any other way (``urlsplit``) lets a spelling the guard does not recognise reach a
    host it would have refused.
    """
    try:
        host = httpx.URL(base_url).host
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise ConfigurationError(f"not a usable Kalshi API URL: {base_url!r} ({exc})") from None
    return host.lower().rstrip(".")


def _in_domain(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def is_production_host(base_url: str) -> bool:
    return _in_domain(host_of(base_url), PRODUCTION_DOMAIN)


def is_demo_host(base_url: str) -> bool:
    return _in_domain(host_of(base_url), DEMO_DOMAIN)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def simulator_hosts(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The hosts named in ``TSABOT_SIMULATOR_HOSTS``, normalised; a Kalshi host there is refused."""
    env = os.environ if env is None else env
    names = [n.strip() for n in env.get(SIMULATOR_HOSTS_VAR, "").split(",") if n.strip()]
    hosts = frozenset(host_of(f"http://{name}/") for name in names)
    for host in hosts:
        if _in_domain(host, PRODUCTION_DOMAIN) or _in_domain(host, DEMO_DOMAIN):
            raise ConfigurationError(
                f"{SIMULATOR_HOSTS_VAR} may name only simulators, not the Kalshi host {host}"
            )
    return hosts


def environment_of(base_url: str) -> Environment:
    """The environment ``base_url`` reaches; any other host is refused (one line)."""
    simulators = simulator_hosts()
    host = host_of(base_url)
    if _in_domain(host, PRODUCTION_DOMAIN):
        return Environment.PRODUCTION
    if _in_domain(host, DEMO_DOMAIN):
        return Environment.DEMO
    if _is_loopback(host) or host in simulators:
        return Environment.SIMULATOR
    raise UnknownHostRefused(
        f"{host or base_url!r} is not a Kalshi host: only Kalshi's hosts, loopback and the simulator hosts "
        f"named in {SIMULATOR_HOSTS_VAR} may be contacted"
    )


def check_mode_host(mode: TradingMode, api_base: str) -> Environment:
    """The environment ``api_base`` reaches, if ``mode`` may use it (:data:`MODE_ENVIRONMENTS`).

    Otherwise a one-line ConfigurationError saying what the mode needs.
    """
    host = host_of(api_base)
    try:
        environment: Environment | None = environment_of(api_base)
        refusal = ""
    except UnknownHostRefused as exc:
        environment, refusal = None, str(exc)
    if environment is not None and environment in MODE_ENVIRONMENTS[mode]:
        return environment
    if mode is TradingMode.LIVE:
        raise ConfigurationError(f"live mode trades on production only, not on {host}")
    if environment is None:
        raise ConfigurationError(f"{mode} mode needs the Kalshi demo host or a local simulator: {refusal}")
    raise ConfigurationError(f"{mode} mode may never contact the production host {host}")


@dataclass(frozen=True)
class KalshiSettings:
    """Where and who: read from ``KALSHI_API_BASE``, ``KALSHI_KEY_ID``, ``KALSHI_PRIVATE_KEY_PATH``.

    ``private_key_pem`` carries a key held only in memory (an Airflow connection's), never printed.
    """

    api_base: str = DEMO_BASE
    key_id: str | None = None
    private_key_path: Path | None = None
    allow_production: bool = False
    private_key_pem: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KalshiSettings:
        env = os.environ if env is None else env
        path = env.get("KALSHI_PRIVATE_KEY_PATH")
        return cls(
            api_base=env.get("KALSHI_API_BASE") or DEMO_BASE,
            key_id=env.get("KALSHI_KEY_ID") or None,
            private_key_path=Path(path) if path else None,
            allow_production=env.get("KALSHI_ALLOW_PRODUCTION", "").lower() in ("1", "true", "yes"),
        )
