"""This laptop's place in a clinic network, kept in its encrypted database.

The laptop's own key (from `fieldkit init`), the network's certificate, the laptop's enrolment
certificate and, on a supervisor's laptop that created or was given it, the network key. All of
it lives in the SQLCipher file's `meta` table, never in a plain file beside it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.store.db import Change, Store, Transaction
from fieldkit.store.journal import Entry
from fieldkit.sync import certs
from fieldkit.sync.identity import public_key


@dataclass(frozen=True)
class Membership:
    device_id: str
    device_key: bytes
    network: certs.Network
    certificate: bytes  # this laptop's enrolment certificate, PEM
    network_key: bytes | None = None  # only on laptops that can enrol and revoke

    def context(self, *, server: bool) -> ssl.SSLContext:
        return certs.tls_context(server=server, device_key=self.device_key, certificate=self.certificate,
                                 network=self.network)

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.device_key).sign(message)


def device_key(store: Store) -> bytes:
    hexed = store.get_meta("device_key")
    if not hexed:
        raise FieldkitError("this database has no device key (run `fieldkit init`)")
    return bytes.fromhex(hexed)


def load(store: Store) -> Membership:
    network = store.get_meta("network")
    if not network:
        raise FieldkitError("this laptop is in no network yet (`fieldkit network create` or `fieldkit network join`)")
    key = store.get_meta("network_key")
    return Membership(store.device_id, device_key(store), certs.Network.from_certificate(network.encode()),
                      store.get_meta("certificate").encode(), bytes.fromhex(key) if key else None)


def member(store: Store) -> bool:
    return bool(store.get_meta("network"))


def join(store: Store, network: certs.Network, certificate: bytes, network_key: bytes | None = None) -> Membership:
    """Keep a network and this laptop's certificate from it; refused if the certificate is not ours."""
    if member(store):
        raise FieldkitError("this laptop is already in a network")
    if certs.verify(certificate, network) != store.device_id:
        raise certs.CertificateRefused("that certificate is for another laptop")
    values = {"network": network.certificate.decode(), "certificate": certificate.decode()}
    if network_key:
        values["network_key"] = network_key.hex()

    def job(tx: Transaction) -> None:  # all of it or none: a half-joined laptop could not sync
        tx.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
        tx.execute("INSERT OR REPLACE INTO devices VALUES (?, ?)", (store.device_id, certificate))
    crashpoint("enrol.join.before_store")
    store.write(job)
    crashpoint("enrol.join.after_store")
    return load(store)


def create(store: Store, name: str) -> Membership:
    """A new network with this laptop as its first member, holding the network key."""
    network_key, network = certs.create_network(name)
    certificate = certs.enrol(network_key, network, public_key(device_key(store)))
    return join(store, network, certificate, network_key)


def signed_message(op: str, network_id: str, device: str, cutoff: int | None) -> bytes:
    """What the network key signs for a revocation or release (revocations made before cut-offs
    existed signed no cut-off)."""
    return f"fieldkit {op}\n{network_id}\n{device}".encode() + (b"" if cutoff is None else f"\n{cutoff}".encode())


def revoke(store: Store, membership: Membership, device: str, *, user: str, reason: str = "") -> Entry:
    """Journal a revocation signed with the network key: it spreads with sync like any entry.

    Its cut-off is the last of the laptop's entries this laptop holds: later ones, whenever the
    laptop claims to have written them, are held back from every fold until a supervisor releases
    them (store/holdback.py)."""
    if device == membership.device_id:
        raise FieldkitError("a laptop cannot revoke itself")
    if device in store.revoked():
        raise FieldkitError(f"laptop {device[:8]} is already revoked")
    return _signed(store, membership, "revoke", device, store.version_vector().get(device, 0), user, reason)


def release(store: Store, membership: Membership, device: str, up_to: int, *, user: str, reason: str = "") -> Entry:
    """Fold a revoked laptop's held entries up to sequence number `up_to`: a supervisor judged them
    written before the laptop was lost."""
    cutoff = store.cutoffs().devices.get(device)
    if cutoff is None:
        raise FieldkitError(f"laptop {device[:8]} is not revoked: nothing of it is held")
    if up_to <= cutoff:
        raise FieldkitError(f"laptop {device[:8]}'s entries up to #{cutoff} are already folded")
    return _signed(store, membership, "release", device, up_to, user, reason)


def _signed(store: Store, membership: Membership, op: str, device: str, cutoff: int, user: str, reason: str) -> Entry:
    if membership.network_key is None:
        raise FieldkitError(f"only a laptop holding the network key can {op} (the one that created the network)")
    signature = Ed25519PrivateKey.from_private_bytes(membership.network_key).sign(
        signed_message(op, membership.network.id, device, cutoff))
    [entry] = store.append([Change("device", device, op, {
        "network": membership.network.id, "reason": reason, "cutoff": cutoff, "signature": signature.hex()})], user=user)
    return entry


def signature_valid(entry: Entry, network: certs.Network) -> bool:
    """Does a revocation or release carry the network key's signature over what it says?"""
    payload = entry.payload
    cutoff = payload.get("cutoff")
    try:
        certs.network_public_key(network).verify(
            bytes.fromhex(payload["signature"]), signed_message(entry.op, network.id, entry.entity_id, cutoff))
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return False
    return payload.get("network") == network.id and (cutoff is not None or entry.op == "revoke")
