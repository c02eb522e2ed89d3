"""One typed settings object, read once from the environment (prefix ``TSABOT_``).

The warehouse URL also honours ``TSA_WAREHOUSE_URL`` (the name the README documents) and, inside Airflow,
the connection ``tsa_warehouse``; see :mod:`tsa_bot.warehouse.engine`. A value that cannot be read is a
:class:`ConfigurationError` naming the variable, never a validation traceback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tsa_bot.core.errors import ConfigurationError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # include/tsa_bot
ENV_PREFIX = "TSABOT_"


def _default_state_dir() -> Path:
    """``<checkout>/.state`` when running from a project checkout, else the user's state folder."""
    checkout = PACKAGE_DIR.parents[1]
    if (checkout / "dags").is_dir() and (checkout / "include").is_dir():
        return checkout / ".state"
    return Path.home() / ".local" / "state" / "tsabot"


def check_http_url(url: str, name: str) -> str:
    """``url`` if it is an http(s) URL with a host; else a ConfigurationError naming where it came from."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http:// or https:// URL with a host, got {url!r}")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)
    # The forecast point cache (see tsa_bot.forecast.cache); None: ``<state_dir>/forecast-cache``.
    forecast_cache_dir: Path | None = None
    # The daily forecast: Prophet alone ("off") or its pool with the YoY baseline (tsa_bot.forecast.pool,
    # which says why "off" is the default: the pool did not beat Prophet at most known-days counts in 2025).
    forecast_pool: Literal["off", "linear", "log"] = "off"
    warehouse_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TSA_WAREHOUSE_URL", "TSABOT_WAREHOUSE_URL")
    )
    tsa_base_url: str = "https://www.tsa.gov"
    # Every ingest serves the shipped page set instead of tsa.gov (the local demo sets it for Airflow).
    offline: bool = False
    # The first retry's delay; later ones back off exponentially. Tests shorten it.
    retry_delay_s: float = Field(60.0, ge=0)
    tsa_first_year: int = 2019
    # The whole of one request (connect, headers and body), not one read: a server trickling bytes is cut.
    http_timeout_s: float = Field(20.0, gt=0)
    http_attempts: int = Field(4, ge=1)
    http_backoff_s: float = Field(1.0, ge=0)
    # A TSA page is about 100 kB; anything past this is refused while it streams, before it fills memory.
    http_max_page_bytes: int = Field(5_000_000, gt=0)
    # Every DAG task's execution_timeout: far above a normal run (the slowest task, the first forecast,
    # takes about 30 s; a full-history ingest at worst 8 pages x attempts x the deadline), far below a day.
    task_timeout_s: float = Field(1800.0, gt=0)
    # TSA answers 403 to clients that do not look like a browser.
    user_agent: str = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    )

    @field_validator("state_dir", "forecast_cache_dir")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        existing = next((p for p in (value, *value.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise ValueError(f"{existing} is a file, not a folder")
        return value

    @field_validator("tsa_base_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        try:
            return check_http_url(value, "it")
        except ConfigurationError:
            raise ValueError("not an http:// or https:// URL with a host") from None


def _variable(error: dict) -> str:
    field = str(error["loc"][0]) if error.get("loc") else ""
    if field in Settings.model_fields:
        return f"{ENV_PREFIX}{field}".upper()
    return field.upper() or "a TSABOT_ setting"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).splitlines()[0].removeprefix("Value error, ")
        raise ConfigurationError(
            f"{_variable(error)}={str(error.get('input'))[:80]!r} is not usable: {message}"
        ) from None
