"""A laptop's identity: an Ed25519 key pair; the device id is derived from the public key."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key: what a device id hashes and a certificate vouches for."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def device_id(public: bytes) -> str:
    # Syncthing's idea: an id nobody can claim without the private key behind it.
    return hashlib.sha256(public).hexdigest()[:32]


def new_device_key() -> tuple[bytes, str]:
    """A fresh private key (raw 32 bytes) and the device id it proves."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return raw, device_id(raw_public(key.public_key()))


def public_key(private: bytes) -> bytes:
    """The raw public key of a raw private key: what a certificate vouches for."""
    return raw_public(Ed25519PrivateKey.from_private_bytes(private).public_key())
