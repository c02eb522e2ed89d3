"""One typed settings object, read once from the environment (prefix ``TSABOT_``).

The warehouse URL also honours ``TSA_WAREHOUSE_URL`` (the name the README documents) and, inside Airflow,
the connection ``tsa_warehouse``; see :mod:`tsa_bot.warehouse.engine`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


def _default_state_dir() -> Path:
    """``<checkout>/.state`` when running from a project checkout, else the user's state folder."""
    checkout = PACKAGE_DIR.parents[1]
    if (checkout / "dags").is_dir() and (checkout / "include").is_dir():
        return checkout / ".state"
    return Path.home() / ".local" / "state" / "tsabot"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSABOT_", extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)
    warehouse_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TSA_WAREHOUSE_URL", "TSABOT_WAREHOUSE_URL")
    )
    tsa_base_url: str = "https://www.tsa.gov"
    # Every ingest serves the shipped page set instead of tsa.gov (the local demo sets it for Airflow).
    offline: bool = False
    # The first retry's delay; later ones back off exponentially. Tests shorten it.
    retry_delay_s: float = 60.0
    tsa_first_year: int = 2019
    http_timeout_s: float = 20.0
    http_attempts: int = 4
    http_backoff_s: float = 1.0
    # TSA answers 403 to clients that do not look like a browser.
    user_agent: str = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
