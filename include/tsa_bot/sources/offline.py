"""A local copy of the tsa.gov passenger-volumes pages, and an HTTP server that serves it.

The page set is rendered in the real pages' markup from ``../shared/data`` by
``scripts/build_offline_site.py`` and shipped in ``offline_site/``. The same server, fed other pages or
scripted failures, is what the tests fetch from.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tsa_bot.core.records import DailyCount

OFFLINE_SITE_DIR = Path(__file__).resolve().parent / "offline_site"
CURRENT_PATH = "/travel/passenger-volumes"

_PAGE = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<title>TSA checkpoint travel numbers{title_year} | Transportation Security Administration</title>
</head>
<body class="path-node page-node-type-page">
<main id="main-content" class="main-content" role="main">
<div id="block-mainpagecontent" class="block block-system block-system-main-block">
<h1 class="page-title">TSA checkpoint travel numbers{title_year}</h1>
<nav class="year-links">{year_links}</nav>
<div class="view view-tsa-checkpoint-travel-numbers view-display-id-block_1">
<div class="view-content">
<table class="usa-table views-table views-view-table cols-{columns}">
<thead>
<tr>
{header_cells}
</tr>
</thead>
<tbody>
{rows}
</tbody>
</table>
</div>
</div>
</div>
</main>
</body>
</html>
"""

_TH = '<th id="view-{key}-table-column" class="views-field views-field-{key}" scope="col">{label}</th>'
_TD = '<td headers="view-{key}-table-column" class="views-field views-field-{key}">{value}          </td>'


def year_path(year: int) -> str:
    return f"{CURRENT_PATH}/{year}"


def render_page(
    rows: Iterable[DailyCount],
    *,
    year: int | None = None,
    years_linked: Iterable[int] = (),
    newest_first: bool = False,
    legacy_layout: bool = False,
    last_year: Mapping[date, int] | None = None,
) -> str:
    """A page in tsa.gov's markup.

    ``legacy_layout`` renders the older three-column table (this year, and the same weekday a year ago,
    taken from ``last_year``), which the parser must read just as well.
    """
    ordered = sorted(rows, reverse=newest_first)
    if legacy_layout:
        columns = [
            ("field-today-date", "Date"),
            ("field-this-year", "Total Traveler Throughput"),
            ("field-last-year", "Total Traveler Throughput (1 Year Ago - Same Weekday)"),
        ]
    else:
        columns = [("field-today-date", "Date"), ("field-this-year", "Numbers")]
    lookback = last_year or {}
    body = []
    for row in ordered:
        values = [f"{row.day.month}/{row.day.day}/{row.day.year}", f"{row.passengers:,}"]
        if legacy_layout:
            prior = lookback.get(row.day)
            values.append(f"{prior:,}" if prior is not None else "")
        cells = "".join(
            _TD.format(key=k, value=html.escape(v)) for (k, _), v in zip(columns, values, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return _PAGE.format(
        title_year=f" {year}" if year else "",
        year_links=" ".join(f'<a href="{year_path(y)}">{y}</a>' for y in years_linked),
        columns=len(columns),
        header_cells="\n".join(_TH.format(key=k, label=label) for k, label in columns),
        rows="\n".join(body),
    )


def site_pages(directory: Path = OFFLINE_SITE_DIR) -> dict[str, str]:
    """The shipped page set as URL path -> HTML: the current page and one page per year."""
    pages = {}
    for file in sorted(directory.glob("passenger-volumes*.html")):
        suffix = file.stem.removeprefix("passenger-volumes")
        path = year_path(int(suffix[1:])) if suffix else CURRENT_PATH
        pages[path] = file.read_text()
    if CURRENT_PATH not in pages:
        raise FileNotFoundError(f"no passenger-volumes.html in {directory}")
    return pages


class LocalTsaSite:
    """Serves pages over real HTTP on 127.0.0.1, optionally answering the first requests with errors.

    ``failures[path]`` is a list of HTTP statuses returned, in order, before the page itself is served.
    """

    def __init__(self, pages: Mapping[str, str], failures: Mapping[str, list[int]] | None = None) -> None:
        self.pages = dict(pages)
        self.failures = {path: list(statuses) for path, statuses in (failures or {}).items()}
        self.requests: list[tuple[str, str]] = []  # (path, user agent)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-tsa-site", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalTsaSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_response(self, path: str, user_agent: str) -> tuple[int, str]:
        with self._lock:
            self.requests.append((path, user_agent))
            pending = self.failures.get(path)
            if pending:
                status = pending.pop(0)
                return status, f"<html><head><title>Error {status}</title></head><body>Error</body></html>"
        if path in self.pages:
            return 200, self.pages[path]
        return 404, "<html><head><title>Page not found</title></head><body>Not found</body></html>"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/") or "/"
                status, text = site._next_response(path, self.headers.get("User-Agent", ""))
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@contextmanager
def serve_pages(
    pages: Mapping[str, str], failures: Mapping[str, list[int]] | None = None
) -> Iterator[LocalTsaSite]:
    site = LocalTsaSite(pages, failures).start()
    try:
        yield site
    finally:
        site.stop()


@contextmanager
def offline_site() -> Iterator[LocalTsaSite]:
    """The shipped offline page set, served for the duration of the block."""
    with serve_pages(site_pages()) as site:
        yield site
