"""A laptop's identity: an Ed25519 key pair; the device id is derived from the public key."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def device_id(public: bytes) -> str:
    # Syncthing's idea: an id nobody can claim without the private key behind it.
    return hashlib.sha256(public).hexdigest()[:32]


def new_device_key() -> tuple[bytes, str]:
    """A fresh private key (raw 32 bytes) and the device id it proves."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return raw, device_id(key.public_key().public_bytes(**_RAW))


def public_key(private: bytes) -> bytes:
    """The raw public key of a raw private key: what a certificate vouches for."""
    return Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes(**_RAW)
