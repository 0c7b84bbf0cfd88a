"""A restored laptop takes a new identity (security.md T11, T12, T17).

A backup holds the laptop's device key. Were the restored copy to go on as that device, it would
number entries from where the backup stopped: if the original laptop still exists (repaired,
found, or never lost) one sequence number would name two entries, and every peer would refuse
both as a fork; if the original was lost and revoked, the copy would write under a revoked
identity and everything it wrote would be held back. So a restore always makes a new device:

- the old key signs a last checkpoint over its whole chain first, so every entry it wrote
  before the backup can still be verified and relayed (up to a revocation's cut-off they fold
  everywhere; beyond it they wait for a supervisor, as any revoked laptop's do);
- then the old key is dropped: nothing here can write or sign as the old laptop again;
- the new device is out of the network until a supervisor enrols it (`fieldkit network join`),
  except on a laptop that held the network key restored by a supervisor: it is its own
  enroller, as when it created the network, and enrols its new key at once.

The old laptop is not revoked here: only the supervisor knows whether it was lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldkit.permissions import allowed
from fieldkit.store.db import Store, Transaction
from fieldkit.store.keystore import User
from fieldkit.sync import certs, membership
from fieldkit.sync.identity import new_device_key, public_key

MEMBERSHIP = ("network", "certificate", "network_key")


@dataclass(frozen=True)
class Reidentified:
    old: str
    new: str
    enrolled: bool  # True when the laptop enrolled itself with the network key it holds


def reidentify(store: Store, user: User) -> Reidentified:
    """Give the laptop of `store` a new device key and id. The caller reopens the store after."""
    old, old_key = store.device_id, membership.device_key(store)
    store.sign_checkpoints(Ed25519PrivateKey.from_private_bytes(old_key).sign)
    new_key, new = new_device_key()
    network = store.get_meta("network")
    network_key = store.get_meta("network_key")
    certificate = None
    if network and network_key and allowed(user.role, "enrol laptops"):
        certificate = certs.enrol(bytes.fromhex(network_key), certs.Network.from_certificate(network.encode()),
                                  public_key(new_key))

    def job(tx: Transaction) -> None:
        tx.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (new,))
        tx.execute("UPDATE meta SET value = ? WHERE key = 'device_key'", (new_key.hex(),))
        if certificate is None:
            tx.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in MEMBERSHIP])
        else:
            tx.execute("UPDATE meta SET value = ? WHERE key = 'certificate'", (certificate.decode(),))
            tx.execute("INSERT OR REPLACE INTO devices VALUES (?, ?)", (new, certificate))
        tx.execute("INSERT OR REPLACE INTO meta VALUES ('restored_from', ?)", (old,))
        tx.audit(user.id, "restored", entity_id=new, detail=f"was laptop {old}")
    store.write(job)
    return Reidentified(old, new, certificate is not None)
