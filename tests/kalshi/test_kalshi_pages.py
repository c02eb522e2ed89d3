"""Issue 18: ``KalshiClient._pages`` followed cursors forever while the server kept returning one. A unit
test of that one method, over a scripted transport."""

from __future__ import annotations

import httpx
import pytest

from tsa_bot.kalshi.client import MAX_PAGES, KalshiClient
from tsa_bot.kalshi.errors import KalshiError

SAFETY = MAX_PAGES + 50  # the test fails instead of hanging if the client never stops


def _client(cursor_for) -> tuple[KalshiClient, list[str | None]]:
    asked: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        if len(asked) > SAFETY:
            return httpx.Response(400, json={"error": {"code": "test_gave_up", "message": "looping"}})
        return httpx.Response(200, json={"markets": [], "cursor": cursor_for(len(asked))})

    return KalshiClient("http://127.0.0.1:9/trade-api/v2", transport=httpx.MockTransport(handle)), asked


def test_a_repeated_cursor_stops_the_listing_with_one_line():
    client, asked = _client(lambda n: "same-cursor")
    with client, pytest.raises(KalshiError) as err:
        client.markets(series_ticker="KXTSAW")
    assert "repeated the cursor" in str(err.value) and "\n" not in str(err.value)
    assert len(asked) == 2


def test_cursors_that_never_end_stop_at_the_page_cap():
    client, asked = _client(lambda n: f"cursor-{n}")
    with client, pytest.raises(KalshiError) as err:
        client.markets(series_ticker="KXTSAW")
    assert f"more than {MAX_PAGES} pages" in str(err.value)
    assert len(asked) == MAX_PAGES


def test_an_empty_cursor_ends_the_listing():
    client, asked = _client(lambda n: "next" if n == 1 else "")
    with client:
        assert client.markets(series_ticker="KXTSAW") == []
    assert asked == [None, "next"]
