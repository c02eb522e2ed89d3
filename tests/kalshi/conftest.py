"""Fixtures for the Kalshi tests: RSA keys made at test time, a simulator, and a signed client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from kalshi_testkit import FAST_RETRY, KEY_ID

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi_sim import RunningSimulator, running_simulator


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sim(rsa_key: rsa.RSAPrivateKey) -> Iterator[RunningSimulator]:
    """A simulator with generous rate limits (the 429 tests make their own) and one funded account."""
    with running_simulator(read_rate=10_000, write_rate=10_000) as running:
        running.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        yield running


@pytest.fixture
def client(sim: RunningSimulator, rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiClient]:
    with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY) as c:
        yield c
