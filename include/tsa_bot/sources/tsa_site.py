"""Fetch the passenger-volumes pages from tsa.gov (or any site serving the same paths).

Every request is bounded: one total deadline (``TSABOT_HTTP_TIMEOUT_S``) covers connecting, the headers
and the whole body, so a server trickling a byte at a time is cut at the deadline; the body is streamed
and refused once it passes ``TSABOT_HTTP_MAX_PAGE_BYTES``. Only what a retry can fix is retried: timeouts,
refused or dropped connections, 5xx and 429. A page too large or holding a NUL byte fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from tsa_bot.core.config import Settings, get_settings
from tsa_bot.core.errors import SourceRejected, SourceUnavailable, one_line
from tsa_bot.core.records import FetchedPage
from tsa_bot.sources.offline import CURRENT_PATH, year_path

log = logging.getLogger(__name__)

OFFLINE_HINT = "try the offline demo: tsabot ingest --offline"
RETRYABLE_STATUSES = frozenset({429})  # and every 5xx


def page_url(base_url: str, year: int | None = None) -> str:
    """The current page (``year=None``) or a year page."""
    return base_url.rstrip("/") + (CURRENT_PATH if year is None else year_path(year))


class _Retryable(Exception):
    """One attempt failed in a way the next attempt may not."""


async def _get(url: str, settings: Settings) -> tuple[int, str]:
    """Status and text of one GET, the body streamed under the size cap."""
    cap = settings.http_max_page_bytes
    too_large = SourceRejected(
        f"{url} sent more than {cap:,} bytes, which no TSA page needs; refused "
        "(raise TSABOT_HTTP_MAX_PAGE_BYTES if the page really grew)"
    )
    headers = {"User-Agent": settings.user_agent, "Accept": "text/html,application/xhtml+xml"}
    async with (
        httpx.AsyncClient(headers=headers, follow_redirects=True, timeout=settings.http_timeout_s) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code >= 400:
            return response.status_code, ""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():  # decoded: a gzip bomb counts at its real size
            body += chunk
            if len(body) > cap:
                raise too_large
        return response.status_code, body.decode(response.charset_encoding or "utf-8", errors="replace")


def _attempt(url: str, settings: Settings) -> tuple[int, str]:
    """One request under its total deadline; raises _Retryable for what another attempt may fix."""
    deadline = settings.http_timeout_s
    try:
        return asyncio.run(asyncio.wait_for(_get(url, settings), timeout=deadline))
    except (TimeoutError, httpx.TimeoutException):
        raise _Retryable(f"no complete answer within {deadline:g}s") from None
    except httpx.UnsupportedProtocol as exc:  # e.g. a redirect to a file:// URL
        raise SourceRejected(f"{url}: {one_line(exc)}") from None
    except httpx.TransportError as exc:
        raise _Retryable(f"cannot connect ({_root_cause(exc)})") from None
    except httpx.HTTPError as exc:  # too many redirects, an undecodable body: the same next time
        raise SourceRejected(f"{url}: {type(exc).__name__}: {one_line(exc)}") from None


def fetch_page(url: str, settings: Settings | None = None) -> FetchedPage:
    """GET one page, retrying timeouts, connection errors, 5xx and 429 with exponential backoff."""
    settings = settings or get_settings()
    host = urlsplit(url).netloc
    last_problem = ""
    for attempt in range(1, settings.http_attempts + 1):
        try:
            status, text = _attempt(url, settings)
        except _Retryable as problem:
            last_problem = str(problem)
        else:
            if status < 400:
                if "\x00" in text:
                    raise SourceRejected(
                        f"{url} sent a page with a NUL byte at character {text.index(chr(0)):,}: "
                        "not an HTML page; refused (nothing was stored)"
                    )
                return FetchedPage(url, datetime.now(UTC), text)
            if status < 500 and status not in RETRYABLE_STATUSES:
                hint = " (TSA blocks clients that do not look like a browser)" if status == 403 else ""
                raise SourceRejected(f"{url} answered HTTP {status}{hint}")
            last_problem = f"HTTP {status}"
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
