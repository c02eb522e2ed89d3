"""Fetching over real HTTP from a local site: user agent, 5xx retries, clear errors on 4xx and no network."""

from __future__ import annotations

import socket

import pytest

from tsa_bot.core.config import Settings
from tsa_bot.core.errors import SourceRejected, SourceUnavailable
from tsa_bot.sources.offline import CURRENT_PATH, serve_pages
from tsa_bot.sources.tsa_site import fetch_page, page_url

FAST = Settings(http_attempts=3, http_backoff_s=0.01, http_timeout_s=2)
PAGE = "<html><table><tr><th>Date</th><th>Numbers</th></tr></table></html>"


def test_sends_a_browser_user_agent_and_returns_the_page():
    with serve_pages({CURRENT_PATH: PAGE}) as site:
        page = fetch_page(page_url(site.base_url), FAST)
    assert page.html == PAGE
    assert site.requests[0][1].startswith("Mozilla/5.0")


def test_server_errors_are_retried_with_backoff():
    with serve_pages({CURRENT_PATH: PAGE}, failures={CURRENT_PATH: [503, 502]}) as site:
        page = fetch_page(page_url(site.base_url), FAST)
    assert page.html == PAGE and len(site.requests) == 3


def test_persistent_server_errors_give_up_with_a_one_line_error():
    with (
        serve_pages({}, failures={CURRENT_PATH: [500] * 5}) as site,
        pytest.raises(SourceUnavailable, match="HTTP 500 after 3 attempts") as info,
    ):
        fetch_page(page_url(site.base_url), FAST)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("status", "hint"), [(403, "look like a browser"), (404, "HTTP 404")])
def test_client_errors_fail_at_once(status, hint):
    with (
        serve_pages({}, failures={"/travel/passenger-volumes/2019": [status]}) as site,
        pytest.raises(SourceRejected, match=hint),
    ):
        fetch_page(page_url(site.base_url, 2019), FAST)
    assert len(site.requests) == 1


def test_unreachable_host_names_it_and_suggests_the_offline_demo():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceUnavailable) as info:
        fetch_page(page_url(f"http://127.0.0.1:{port}"), FAST)
    message = str(info.value)
    assert f"cannot reach 127.0.0.1:{port}" in message
    assert "tsabot ingest --offline" in message and "\n" not in message
