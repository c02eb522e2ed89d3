"""Fetches are bounded: a total deadline per request and a size cap, against real misbehaving local servers.

Each server runs on 127.0.0.1 with http.server: one trickles its body a byte at a time, one trickles its
headers, one streams a page far past the cap (with and without Content-Length), one sends a NUL byte.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from tsa_bot.core.config import Settings
from tsa_bot.core.errors import SourceRejected, SourceUnavailable
from tsa_bot.sources.offline import CURRENT_PATH, site_pages
from tsa_bot.sources.tsa_site import fetch_page

CAP = 1_000_000
BOUNDED = Settings(http_attempts=1, http_backoff_s=0.01, http_timeout_s=1.0, http_max_page_bytes=CAP)
HUGE = 50_000_000
CHUNK = b"<tr><td>1/1/2025</td><td>2,000,000</td></tr>\n" * 1400  # about 64 kB


class Misbehaving(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests_seen: list[str]

    def do_GET(self) -> None:
        self.requests_seen.append(self.path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            getattr(self, "_" + self.path.strip("/").split("/")[0])()

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _trickle(self) -> None:  # one byte every 0.3 s; 40 bytes take 12 s
        self._headers(40)
        for _ in range(40):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.3)

    def _trickle_headers(self) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"y" * 40:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.3)

    def _huge(self) -> None:
        self._headers(HUGE)
        for _ in range(HUGE // len(CHUNK) + 1):
            self.wfile.write(CHUNK)

    def _huge_chunked(self) -> None:
        self._headers(None)
        for _ in range(HUGE // len(CHUNK) + 1):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))

    def _nul(self) -> None:
        body = b"<html><body>before\x00after " + b"PAGE-TEXT " * 200 + b"</body></html>"
        self._headers(len(body))
        self.wfile.write(body)

    def _busy(self) -> None:
        self.send_response(429)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def misbehaving_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (Misbehaving,), {"requests_seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("path", ["/trickle", "/trickle_headers"])
def test_a_trickling_server_is_cut_at_the_total_deadline(path):
    with misbehaving_server() as (base, _):
        began = time.monotonic()
        with pytest.raises(SourceUnavailable, match="1s") as info:
            fetch_page(base + path, BOUNDED)
        elapsed = time.monotonic() - began
    assert elapsed < 1.8, f"held for {elapsed:.1f}s with a 1s deadline"
    assert "\n" not in str(info.value) and info.value.retryable


def test_the_deadline_holds_for_every_attempt_and_timeouts_are_retried():
    settings = BOUNDED.model_copy(update={"http_attempts": 2})
    with misbehaving_server() as (base, seen):
        began = time.monotonic()
        with pytest.raises(SourceUnavailable, match="after 2 attempts"):
            fetch_page(base + "/trickle", settings)
        elapsed = time.monotonic() - began
    assert len(seen) == 2 and elapsed < 3.0


@pytest.mark.parametrize("path", ["/huge", "/huge_chunked"])
def test_a_page_past_the_size_cap_is_refused_while_streaming_and_not_retried(path):
    settings = BOUNDED.model_copy(update={"http_attempts": 3, "http_timeout_s": 20.0})
    with misbehaving_server() as (base, seen):
        began = time.monotonic()
        with pytest.raises(SourceRejected, match="more than 1,000,000 bytes") as info:
            fetch_page(base + path, settings)
        elapsed = time.monotonic() - began
    assert seen == [path] and elapsed < 5
    assert "TSABOT_HTTP_MAX_PAGE_BYTES" in str(info.value) and "\n" not in str(info.value)
    assert not info.value.retryable


def test_a_page_with_a_nul_byte_is_refused_at_once_without_its_content():
    settings = BOUNDED.model_copy(update={"http_attempts": 3})
    with misbehaving_server() as (base, seen), pytest.raises(SourceRejected, match="NUL") as info:
        fetch_page(base + "/nul", settings)
    assert seen == ["/nul"] and "PAGE-TEXT" not in str(info.value) and "\n" not in str(info.value)


def test_429_is_retried_like_a_server_error():
    settings = BOUNDED.model_copy(update={"http_attempts": 3})
    with misbehaving_server() as (base, seen), pytest.raises(SourceUnavailable, match="HTTP 429"):
        fetch_page(base + "/busy", settings)
    assert len(seen) == 3


def test_an_ingest_of_a_huge_page_stores_nothing(tsa_env, warehouse_engine, monkeypatch):
    from tsa_bot.sources.ingest import fetch_tsa

    monkeypatch.setenv("TSABOT_HTTP_MAX_PAGE_BYTES", str(CAP))
    pages = site_pages()

    class Site(Misbehaving):
        def do_GET(self) -> None:
            if self.path == CURRENT_PATH:
                self._huge()
                return
            body = pages[self.path].encode()
            self._headers(len(body))
            self.wfile.write(body)

    Site.requests_seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tsa_env(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(SourceRejected, match="more than 1,000,000 bytes"):
            fetch_tsa()
    finally:
        server.shutdown()
        server.server_close()
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_raw_pages")).scalar_one() == 0
