"""Fetch the passenger-volumes pages from tsa.gov (or any site serving the same paths)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from tsa_bot.config import Settings, get_settings
from tsa_bot.errors import SourceRejected, SourceUnavailable
from tsa_bot.sources.offline import CURRENT_PATH, year_path

log = logging.getLogger(__name__)

OFFLINE_HINT = "try the offline demo: tsabot ingest --offline"


@dataclass(frozen=True)
class FetchedPage:
    url: str
    fetched_at: datetime
    html: str


def page_url(base_url: str, year: int | None = None) -> str:
    """The current page (``year=None``) or a year page."""
    return base_url.rstrip("/") + (CURRENT_PATH if year is None else year_path(year))


def fetch_page(
    url: str, settings: Settings | None = None, session: requests.Session | None = None
) -> FetchedPage:
    """GET one page, retrying timeouts, connection errors and 5xx with exponential backoff."""
    settings = settings or get_settings()
    http = session or requests.Session()
    host = urlsplit(url).netloc
    last_problem = ""
    for attempt in range(1, settings.http_attempts + 1):
        try:
            response = http.get(
                url,
                headers={"User-Agent": settings.user_agent, "Accept": "text/html,application/xhtml+xml"},
                timeout=settings.http_timeout_s,
            )
        except requests.Timeout:
            last_problem = f"timed out after {settings.http_timeout_s:g}s"
        except requests.ConnectionError as exc:
            last_problem = f"cannot connect ({_root_cause(exc)})"
        else:
            if response.status_code < 400:
                return FetchedPage(url, datetime.now(UTC), response.text)
            if response.status_code < 500:
                hint = (
                    " (TSA blocks clients that do not look like a browser)"
                    if response.status_code == 403
                    else ""
                )
                raise SourceRejected(f"{url} answered HTTP {response.status_code}{hint}")
            last_problem = f"HTTP {response.status_code}"
        if attempt < settings.http_attempts:
            delay = settings.http_backoff_s * 2 ** (attempt - 1)
            log.warning("fetching %s: %s; retry %d in %.1fs", url, last_problem, attempt, delay)
            time.sleep(delay)
    raise SourceUnavailable(
        f"cannot reach {host}: {last_problem} after {settings.http_attempts} attempts; {OFFLINE_HINT}"
    )


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc).split(": ", 1)[-1] if str(exc) else type(exc).__name__
    return text.splitlines()[0][:160]
