"""The pacing transport spaces requests at the configured rate, whatever the caller does."""

from __future__ import annotations

import httpx
import pytest

from tsa_bot.quotes.pacing import PacedTransport


def test_requests_are_spaced_at_the_rate():
    now = [100.0]
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(now[0])
        return httpx.Response(200, json={})

    paced = PacedTransport(4.0, httpx.MockTransport(answer), clock=lambda: now[0], sleep=sleep)
    with httpx.Client(transport=paced) as client:
        for _ in range(5):
            client.get("http://kalshi.test/x")
        now[0] += 10  # idle: the next request goes at once, without a burst of saved-up credit after it
        client.get("http://kalshi.test/x")
        client.get("http://kalshi.test/x")
    assert [round(t - 100, 6) for t in sent] == [0, 0.25, 0.5, 0.75, 1.0, 11.0, 11.25]


def test_the_rate_must_be_positive():
    with pytest.raises(ValueError, match="rate must be positive"):
        PacedTransport(0)
