"""Kalshi request signing: ``base64(RSA-PSS-SHA256(timestamp + METHOD + path))``.

The body is not signed and the path excludes the query string. PSS uses MGF1(SHA-256) and a salt as
long as the digest (32 bytes). The private key never appears in a repr, a log line or an exception.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tsa_bot.core.errors import ConfigurationError

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(timestamp_ms: str, method: str, path: str) -> bytes:
    """The exact bytes Kalshi signs; ``path`` may carry a query string, which is dropped."""
    return f"{timestamp_ms}{method.upper()}{urlsplit(path).path}".encode()


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # Deliberately not chaining the parser's message: it could quote key material.
        raise ConfigurationError("the Kalshi private key is not an unencrypted PEM RSA key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("the Kalshi private key must be an RSA key")
    return key


def load_private_key_file(path: Path) -> rsa.RSAPrivateKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the Kalshi private key at {path}: {exc.strerror}") from None
    return load_private_key(pem)


def sign(key: rsa.RSAPrivateKey, timestamp_ms: str, method: str, path: str) -> str:
    signature = key.sign(signing_message(timestamp_ms, method, path), _PSS, hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(
    public_key: rsa.RSAPublicKey, signature_b64: str, timestamp_ms: str, method: str, path: str
) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, signing_message(timestamp_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    """Holds the key id and private key; produces the three auth headers for a request."""

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey, clock: Callable[[], float] = time.time):
        self.key_id = key_id
        self._key = private_key
        self._clock = clock

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    def headers(self, method: str, path: str) -> dict[str, str]:
        timestamp = str(int(self._clock() * 1000))
        return {
            KEY_HEADER: self.key_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._key, timestamp, method, path),
        }
