"""RSA-PSS request signing, checked by verifying with the public key (keys generated at test time)."""

from __future__ import annotations

import base64
import logging
from datetime import date

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from key_testkit import private_pem

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import event_ticker_for_week
from tsa_bot.kalshi.auth import Signer, load_private_key, sign, signing_message, verify
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.hosts import KalshiSettings

TS = "1703123456789"


def test_signing_message_matches_the_documented_example():
    assert signing_message(TS, "get", "/trade-api/v2/portfolio/balance?x=1") == (
        b"1703123456789GET/trade-api/v2/portfolio/balance"
    )


def test_signature_verifies_with_pss_sha256_and_a_32_byte_salt(rsa_key):
    signature = base64.b64decode(sign(rsa_key, TS, "GET", "/trade-api/v2/portfolio/balance"))
    message = b"1703123456789GET/trade-api/v2/portfolio/balance"
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    rsa_key.public_key().verify(signature, message, pss32, hashes.SHA256())  # raises if wrong
    other_salt = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=64)
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(signature, message, other_salt, hashes.SHA256())


def test_signature_covers_timestamp_method_and_path_but_not_the_query(rsa_key):
    public = rsa_key.public_key()
    sig = sign(rsa_key, TS, "POST", "/trade-api/v2/portfolio/events/orders")
    assert verify(public, sig, TS, "POST", "/trade-api/v2/portfolio/events/orders?ignored=1")
    assert not verify(public, sig, "1703123456790", "POST", "/trade-api/v2/portfolio/events/orders")
    assert not verify(public, sig, TS, "GET", "/trade-api/v2/portfolio/events/orders")
    assert not verify(public, sig, TS, "POST", "/trade-api/v2/portfolio/orders")
    assert not verify(public, "not base64!", TS, "POST", "/trade-api/v2/portfolio/events/orders")


def test_pss_signatures_are_randomised_yet_all_verify(rsa_key):
    a = sign(rsa_key, TS, "GET", "/trade-api/v2/portfolio/balance")
    b = sign(rsa_key, TS, "GET", "/trade-api/v2/portfolio/balance")
    assert a != b
    assert verify(rsa_key.public_key(), a, TS, "GET", "/trade-api/v2/portfolio/balance")
    assert verify(rsa_key.public_key(), b, TS, "GET", "/trade-api/v2/portfolio/balance")


def test_signer_headers_use_the_clock_in_milliseconds(rsa_key):
    signer = Signer("key-1", rsa_key, clock=lambda: 1703123456.789)
    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance")
    assert headers["KALSHI-ACCESS-KEY"] == "key-1"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == TS
    assert verify(
        rsa_key.public_key(), headers["KALSHI-ACCESS-SIGNATURE"], TS, "GET", "/trade-api/v2/portfolio/balance"
    )
    assert "PRIVATE" not in repr(signer)


def test_client_accepts_pem_bytes_and_signs_the_full_path(rsa_key):
    pem = private_pem(rsa_key)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": 9802, "balance_dollars": "98.0186", "updated_ts": 1})

    with KalshiClient(
        "https://demo-api.kalshi.co/trade-api/v2",
        "k",
        private_key_pem=pem,
        transport=httpx.MockTransport(handler),
    ) as client:
        assert str(client.balance().balance_dollars) == "98.0186"
    request = seen[0]
    assert verify(
        rsa_key.public_key(),
        request.headers["KALSHI-ACCESS-SIGNATURE"],
        request.headers["KALSHI-ACCESS-TIMESTAMP"],
        "GET",
        "/trade-api/v2/portfolio/balance",
    )


def test_private_key_and_signature_never_reach_the_logs(rsa_key, caplog):
    pem = private_pem(rsa_key).decode()
    signatures: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        signatures.append(request.headers["KALSHI-ACCESS-SIGNATURE"])
        if len(signatures) == 1:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "x", "details": ""}})
        return httpx.Response(200, json={"balance": 1, "balance_dollars": "0.0100"})

    caplog.set_level(logging.DEBUG)
    with KalshiClient(
        "http://127.0.0.1:1/trade-api/v2",
        "k",
        private_key=rsa_key,
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
    ) as client:
        client.balance()
        assert "BEGIN" not in repr(client)
    text = caplog.text
    assert "retry" in text  # the retry was logged...
    body = pem.splitlines()[1]
    assert body not in text and all(sig not in text for sig in signatures)  # ...without secrets


def test_bad_pem_is_a_one_line_configuration_error():
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM RSA key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_settings_read_the_documented_environment(tmp_path):
    env = {
        "KALSHI_API_BASE": "http://127.0.0.1:9/trade-api/v2",
        "KALSHI_KEY_ID": "abc",
        "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "k.pem"),
    }
    settings = KalshiSettings.from_env(env)
    assert settings.api_base == env["KALSHI_API_BASE"]
    assert settings.key_id == "abc" and settings.private_key_path == tmp_path / "k.pem"
    assert settings.allow_production is False
    with pytest.raises(ConfigurationError, match="cannot read the Kalshi private key"):
        KalshiClient.from_settings(settings)


@pytest.mark.parametrize(
    ("day", "ticker"),
    [
        (date(2026, 2, 9), "KXTSAW-26FEB15"),  # Monday
        (date(2026, 2, 15), "KXTSAW-26FEB15"),  # the Sunday itself
        (date(2026, 2, 16), "KXTSAW-26FEB22"),
        (date(2025, 12, 29), "KXTSAW-26JAN04"),  # a week across the new year
        (date(2026, 3, 2), "KXTSAW-26MAR08"),
    ],
)
def test_event_ticker_is_named_after_the_weeks_sunday(day, ticker):
    assert event_ticker_for_week(day) == ticker
