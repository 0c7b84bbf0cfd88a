"""Entries held back from the fold: what a revoked laptop, or a revoked user, wrote after the revocation.

"After" is never read from the revoked laptop's clock, which whoever holds it controls. A revocation
carries a cut-off instead: for a laptop, the sequence number of the last of its entries the revoking
supervisor's laptop held; for a user, that laptop's whole version vector (her entries on each laptop
up to what it held). Entries within the cut-off are folded like any other. Later ones are kept in
every journal and relayed like any entry, so none is lost on its way to the hub, but no laptop folds
them: they wait for a supervisor, who releases a laptop's entries up to a sequence number (a second
entry signed with the network key) or leaves them held. The cut-off that counts is the highest any
revocation or release gave, so replicas agree whatever order these reach them in.

A pure rule over journal entries, read by the laptop's fold and by the hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fieldkit.store.journal import Entry

# The entries that set cut-offs: (entity, op), and a condition on a journal table that finds them
SETTING = frozenset({("device", "revoke"), ("device", "release"), ("user", "revoke")})
SETTING_SQL = " OR ".join(f"(entity = '{entity}' AND op = '{op}')" for entity, op in sorted(SETTING))


def user_revoked(conn, user_id: str) -> bool:
    """Has a revocation of this user been folded (a connection to the clinic database)?"""
    return conn.execute("SELECT 1 FROM cutoffs WHERE kind = 'user' AND subject = ?", (user_id,)).fetchone() is not None


class BadCutoff(ValueError):
    """A revocation or release whose cut-off is not the shape the rule reads."""


def cutoff_of(entry: Entry) -> int | dict[str, int] | None:
    """The cut-off an entry in SETTING carries: a sequence number for a laptop, a vector for a user.
    (A laptop's revocation made before cut-offs existed carries none, and holds nothing back.)"""
    value = entry.payload.get("cutoff")
    if entry.entity == "device":
        if value is None and entry.op == "revoke":
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadCutoff("a laptop's cut-off must be a sequence number")
        return value
    if not isinstance(value, dict) or not all(
            isinstance(origin, str) and isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
            for origin, seq in value.items()):
        raise BadCutoff("a user's cut-off must map laptops to sequence numbers")
    return value


@dataclass
class Cutoffs:
    """The cut-offs in force: revoked laptops' and revoked users' (one vector each)."""

    devices: dict[str, int] = field(default_factory=dict)
    users: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> Cutoffs:
        cutoffs = cls()
        cutoffs.take(entries)
        return cutoffs

    def take(self, entries: Iterable[Entry]) -> bool:
        """Raise the cut-offs by those that revocations and releases among `entries` give;
        True if any changed."""
        changed = False
        for entry in entries:
            if (entry.entity, entry.op) not in SETTING:
                continue
            cutoff = cutoff_of(entry)
            if cutoff is None:
                continue
            if isinstance(cutoff, int):
                if cutoff > self.devices.get(entry.entity_id, -1):
                    self.devices[entry.entity_id] = cutoff
                    changed = True
            else:
                vector = self.users.get(entry.entity_id)
                if vector is None:
                    self.users[entry.entity_id] = vector = {}
                    changed = True
                for origin, seq in cutoff.items():
                    if seq > vector.get(origin, -1):
                        vector[origin] = seq
                        changed = True
        return changed

    def holds(self, origin: str, seq: int, author: str) -> bool:
        """Is this entry held back from the fold?"""
        if origin in self.devices and seq > self.devices[origin]:
            return True
        vector = self.users.get(author)
        return vector is not None and seq > vector.get(origin, 0)

    def rows(self) -> list[tuple[str, str, str, int]]:
        """(kind, subject, origin, seq) rows for the `cutoffs` table."""
        return ([("device", device, device, seq) for device, seq in self.devices.items()]
                + [("user", user, origin, seq) for user, vector in self.users.items() for origin, seq in vector.items()]
                + [("user", user, "", 0) for user, vector in self.users.items() if not vector])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, int]]) -> Cutoffs:
        cutoffs = cls()
        for kind, subject, origin, seq in rows:
            if kind == "device":
                cutoffs.devices[subject] = seq
            else:
                vector = cutoffs.users.setdefault(subject, {})
                if origin:
                    vector[origin] = seq
        return cutoffs
