"""RSA keys made at test time, and the private PEM the bot reads (PKCS#8, unencrypted), for every test that
signs Kalshi requests (a plain module: conftest names are not importable)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_key_file(path: Path, key: rsa.RSAPrivateKey | None = None) -> rsa.RSAPrivateKey:
    """Write ``key`` (a new one when None) to ``path`` as the PEM file ``KALSHI_PRIVATE_KEY_PATH`` names."""
    key = key or new_key()
    path.write_bytes(private_pem(key))
    return key
