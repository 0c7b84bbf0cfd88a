"""What a received batch must prove before the fold sees it (security.md 2, items 7, 8 and 17).

- every origin in it is enrolled: its certificate, kept or carried in the batch, is signed by our
  network's key;
- each origin's run of entries ends on a checkpoint that origin signed: the checkpoint covers its
  entry's hash, and each hash covers the one before (checked by the store's chain planner), so one
  Ed25519 check vouches for the whole run;
- each entry's author held, at that entry, a role allowed to make that kind of change (the same
  rule the services apply where a change is made, here on the journal's own terms);
- a laptop's revocation or release carries the network key's signature, and each revocation a
  cut-off of the shape store/holdback.py reads.

Anything else refuses the whole batch in one line and nothing is applied.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldkit.errors import FieldkitError
from fieldkit.permissions import ANYONE, ENTITIES, Write, may_write
from fieldkit.store.holdback import SETTING, BadCutoff, cutoff_of
from fieldkit.store.journal import SCHEMA_VERSION, Checkpoint, Entry
from fieldkit.sync import certs
from fieldkit.sync.holder import JournalHolder
from fieldkit.sync.membership import signature_valid
from fieldkit.sync.messages import Batch


class Refused(FieldkitError):
    """A batch that fails verification; nothing of it was applied."""


def roles_allowed(entry: Entry) -> frozenset[str]:
    """Who may have written this entry (fieldkit.permissions, read on the journal's own terms)."""
    if entry.schema > SCHEMA_VERSION or entry.entity not in ENTITIES:
        return ANYONE  # a newer fieldkit's change: relayed, not judged by rules that predate it
    payload = entry.payload
    try:
        return may_write(Write(entry.entity, entry.op, tuple(payload.get("fields", {})), bool(payload.get("resolves"))))
    except KeyError:
        raise Refused(f"entry {entry.origin[:8]}#{entry.seq}: no fieldkit makes {entry.op} {entry.entity} "
                      "entries") from None


def _check_shape(entry: Entry) -> None:
    """The payload is the kind of object the fold reads: refused here, not crashed on there."""
    where = f"entry {entry.origin[:8]}#{entry.seq}"
    try:
        payload = entry.payload
    except ValueError:
        raise Refused(f"{where} carries data that is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(f"{where} carries data that is not an object")
    if entry.schema > SCHEMA_VERSION:
        return
    expected = {"fields": dict, "base": dict, "resolves": list, "scores": dict, "patient_id": str, "kind": str,
                "reason": str}
    for name, kind in expected.items():
        if name in payload and not isinstance(payload[name], kind):
            raise Refused(f"{where}: {name} must be {kind.__name__}")
    if (entry.entity, entry.op) in SETTING:
        try:
            cutoff_of(entry)
        except BadCutoff as exc:
            raise Refused(f"{where}: {exc}") from None
    if not all(isinstance(value, dict) for value in payload.get("scores", {}).values()):
        raise Refused(f"{where}: each score must be an object")
    if not all(isinstance(value, str) for value in (*payload.get("resolves", ()), *payload.get("base", {}).values())):
        raise Refused(f"{where}: resolves and base must hold versions as text")


@dataclass
class Verified:
    entries: list[Entry]
    checkpoints: list[Checkpoint]
    certificates: dict[str, bytes]


@dataclass
class Verifier:
    """Checks batches for one network; remembers origin keys and author roles between batches."""

    holder: JournalHolder
    network: certs.Network
    _keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    _roles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def check(self, batch: Batch) -> Verified:
        try:
            entries = [Entry.from_row(row) for row in batch.entries]
        except FieldkitError as exc:
            raise Refused(str(exc)) from None
        for entry in entries:
            _check_shape(entry)
        certificates = self._certificates(batch.certificates)
        checkpoints = [Checkpoint(origin, seq, digest, self._hex(signature))
                       for origin, seq, digest, signature in batch.checkpoints]
        # Only the checkpoints just verified are kept (and relayed): another laptop's forged one
        # riding along would otherwise be handed on in place of the real one.
        verified = self._check_signed(entries, checkpoints)
        self._check_roles(entries)
        return Verified(entries, verified, certificates)

    def _certificates(self, carried: dict[str, str]) -> dict[str, bytes]:
        kept: dict[str, bytes] = {}
        for origin, pem in carried.items():
            if origin in self._keys:
                continue
            try:
                proven, key = certs.proven_key(pem.encode(), self.network)
            except certs.CertificateRefused as exc:
                raise Refused(f"laptop {origin[:8]} is not enrolled: {exc}") from None
            if proven != origin:
                raise Refused(f"the certificate sent for laptop {origin[:8]} belongs to laptop {proven[:8]}")
            self._keys[origin] = key
            kept[origin] = pem.encode()
        return kept

    def _key(self, origin: str) -> Ed25519PublicKey:
        if origin not in self._keys:
            pem = self.holder.certificates().get(origin)
            if pem is None:
                raise Refused(f"entries from laptop {origin[:8]}, which is not enrolled in {self.network.name}")
            self._keys[origin] = certs.proven_key(pem, self.network)[1]
        return self._keys[origin]

    def _check_signed(self, entries: list[Entry], checkpoints: list[Checkpoint]) -> list[Checkpoint]:
        last: dict[str, Entry] = {}
        for entry in entries:
            if entry.origin in last and entry.seq <= last[entry.origin].seq:
                raise Refused(f"entries from laptop {entry.origin[:8]} out of order")
            last[entry.origin] = entry
        signed = {(c.origin, c.seq): c for c in checkpoints}
        verified = []
        for origin, entry in last.items():
            checkpoint = signed.get((origin, entry.seq))
            if checkpoint is None or checkpoint.hash != entry.hash:
                raise Refused(f"entries from laptop {origin[:8]} end on #{entry.seq}, which that laptop did not sign")
            try:
                self._key(origin).verify(checkpoint.signature, checkpoint.message)
            except InvalidSignature:
                raise Refused(f"the signature on laptop {origin[:8]}'s entries up to #{entry.seq} is not its own "
                              "(altered on the way)") from None
            verified.append(checkpoint)
        return verified

    def _check_roles(self, entries: list[Entry]) -> None:
        unknown = {e.author for e in entries} - self._roles.keys()
        self._roles.update(self.holder.role_history(unknown))
        # In version order, not the batch's. A restored laptop writes under a new id as the users
        # created under its old one (sync/reidentify.py), and a batch lists origins by id, so their
        # work may come before their creation. The clock orders the two: the restored laptop goes
        # on from the last stamp in its backup.
        for entry in sorted(entries, key=lambda e: e.version):
            if entry.entity == "user":
                role = entry.payload.get("fields", {}).get("role")
                # A clinic's first supervisor is journalled by themselves, as its laptop's first
                # entry: nobody else exists yet. Anywhere later it would be minting a role.
                if entry.op == "create" and entry.author == entry.entity_id and entry.seq == 1:
                    self._give(entry, role)
                    continue
            held = self._role_at(entry)
            if held not in roles_allowed(entry):
                who = f"a {held}" if held else f"unknown user {entry.author[:8]}"
                raise Refused(f"entry {entry.origin[:8]}#{entry.seq}: {who} may not {entry.op} {entry.entity} records")
            if entry.entity == "user":
                self._give(entry, role)
            elif entry.entity == "device" and not signature_valid(entry, self.network):
                raise Refused(f"entry {entry.origin[:8]}#{entry.seq}: {entry.op} not signed by the network key")

    def _give(self, entry: Entry, role: str | None) -> None:
        if role:
            history = self._roles.setdefault(entry.entity_id, [])
            bisect.insort(history, (entry.version, role))

    def _role_at(self, entry: Entry) -> str | None:
        history = self._roles.get(entry.author, [])
        at = bisect.bisect_left(history, (entry.version,))
        return history[at - 1][1] if at else None

    @staticmethod
    def _hex(signature: str) -> bytes:
        try:
            return bytes.fromhex(signature)
        except ValueError:
            raise Refused("malformed batch: a checkpoint signature is not hex") from None

