"""The hub's own identity in its data directory: an Ed25519 key (readable by its owner only) and,
once enrolled like a laptop (`fieldkit hub join`), the network's certificate and its own."""

from __future__ import annotations

import os
from pathlib import Path

from fieldkit.errors import FieldkitError
from fieldkit.sync import certs
from fieldkit.sync.identity import device_id, new_device_key, public_key
from fieldkit.sync.membership import Membership

KEY, NETWORK, CERTIFICATE = "device.key", "network.pem", "certificate.pem"


def init(data: Path) -> str:
    """A new hub key in `data`; its device id, which the supervisor's laptop will enrol."""
    data.mkdir(parents=True, exist_ok=True)
    if (data / KEY).exists():
        raise FieldkitError(f"{data} already holds a hub identity")
    key, device = new_device_key()
    descriptor = os.open(data / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return device


def _key(data: Path) -> bytes:
    try:
        return bytes.fromhex((data / KEY).read_text().strip())
    except FileNotFoundError:
        raise FieldkitError(f"{data} holds no hub identity: run `fieldkit hub init`") from None


def public(data: Path) -> bytes:
    return public_key(_key(data))


def join(data: Path, network: certs.Network, certificate: bytes) -> Membership:
    if certs.verify(certificate, network) != device_id(public(data)):
        raise certs.CertificateRefused("that certificate is for another device than this hub")
    (data / NETWORK).write_bytes(network.certificate)
    (data / CERTIFICATE).write_bytes(certificate)
    return load(data)


def load(data: Path) -> Membership:
    key = _key(data)
    try:
        network = certs.Network.from_certificate((data / NETWORK).read_bytes())
        certificate = (data / CERTIFICATE).read_bytes()
    except FileNotFoundError:
        raise FieldkitError(f"the hub in {data} is in no network yet: `fieldkit hub join CODE ADDRESS`") from None
    return Membership(device_id(public_key(key)), key, network, certificate)
