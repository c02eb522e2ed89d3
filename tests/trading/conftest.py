"""Fixtures for the trading tests: an RSA key made at test time, the five-strike event on a simulator, and a
signed client and the environment the trading steps read to reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from key_testkit import private_pem
from trading_testkit import FAST_RETRY, KEY_ID, SEED

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi_sim import RunningSimulator, running_simulator


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def pem(rsa_key) -> bytes:
    return private_pem(rsa_key)


@pytest.fixture
def sim(rsa_key) -> Iterator[RunningSimulator]:
    """The simulator's default event (21 strikes) and one funded account."""
    with running_simulator(read_rate=10_000, write_rate=10_000) as running:
        running.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        yield running


@pytest.fixture
def tsim(rsa_key) -> Iterator[RunningSimulator]:
    """The five-strike test event on a simulator with generous rate limits and one funded account."""
    with running_simulator(SEED, read_rate=10_000, write_rate=10_000) as running:
        running.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        yield running


@pytest.fixture
def tclient(tsim, rsa_key) -> Iterator[KalshiClient]:
    with KalshiClient(tsim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY) as c:
        yield c


@pytest.fixture
def worker_env(monkeypatch, tmp_path, tsim, pem, warehouse_url) -> RunningSimulator:
    """What a deployed worker has: the warehouse, the exchange and the key, all from the environment (and
    none of the trading settings a developer's shell may have set)."""
    key_file = tmp_path / "kalshi.pem"
    key_file.write_bytes(pem)
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("KALSHI_API_BASE", tsim.base_url)
    monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
    for name in ("TSABOT_TRADING_MODE", "TSABOT_LIVE_TRADING_ENABLED", "TSABOT_KILL_SWITCH", "TSABOT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    return tsim
