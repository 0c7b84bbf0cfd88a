"""Who is signed in to the hub's pages, and how often a name or an address may fail to sign in.

A session is a random 256-bit token in a cookie; the hub keeps only its SHA-256, so a copy of the
database opens no session. It ends 30 minutes after the last request or 12 hours after sign-in,
whichever comes first, and at sign-out. Each session has its own CSRF token (a synchronizer token)
that every form posts back. The sign-in form's session has no operator yet: it exists so that the
form, too, carries a token, and it is replaced by a fresh session at sign-in (no fixation).

Every method is blocking: call it in a thread. Times are Unix seconds from `clock`, which tests set.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fieldkit.hub.storage import HubStorage

IDLE = 30 * 60
ABSOLUTE = 12 * 60 * 60
FAILURES = 5  # failed sign-ins allowed per name, and per address…
WINDOW = 15 * 60  # …within this many seconds


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value: only the browser and this object hold it
    operator: str | None
    csrf: str
    language: str

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, storage: HubStorage, clock: Callable[[], float] = time.time) -> None:
        self.storage, self.clock = storage, clock

    def _now(self) -> int:
        return int(self.clock())

    def start(self, language: str, operator: str | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), operator, secrets.token_urlsafe(32), language)
        now, sql = self._now(), self.storage._sql
        with self.storage._transaction() as cur:
            # Sessions that ended are swept as new ones begin: the table holds only live ones.
            cur.execute(sql("DELETE FROM hub_sessions WHERE seen < ? OR started < ?"), (now - IDLE, now - ABSOLUTE))
            cur.execute(sql("INSERT INTO hub_sessions VALUES (?, ?, ?, ?, ?, ?)"),
                        (_digest(session.token), operator, session.csrf, language, now, now))
        return session

    def find(self, token: str) -> Session | None:
        """The live session of this token, its idle time restarted; None if it ended or never was."""
        now, sql = self._now(), self.storage._sql
        with self.storage._transaction() as cur:
            row = cur.execute(sql("SELECT operator, csrf, language FROM hub_sessions WHERE token = ? AND seen >= ? "
                                  "AND started >= ?"), (_digest(token), now - IDLE, now - ABSOLUTE)).fetchone()
            if row is None:
                return None
            cur.execute(sql("UPDATE hub_sessions SET seen = ? WHERE token = ?"), (now, _digest(token)))
        return Session(token, *row)

    def end(self, token: str) -> None:
        with self.storage._transaction() as cur:
            cur.execute(self.storage._sql("DELETE FROM hub_sessions WHERE token = ?"), (_digest(token),))

    def set_language(self, token: str, language: str) -> None:
        with self.storage._transaction() as cur:
            cur.execute(self.storage._sql("UPDATE hub_sessions SET language = ? WHERE token = ?"),
                        (language, _digest(token)))


class Throttle:
    """Failed sign-ins counted per name and per address: after FAILURES in WINDOW, every sign-in
    for that name or from that address fails, without a password being checked, until the window
    has moved past them. A success forgives nothing, so a guesser gains no tries when the operator
    signs in meanwhile. Kept in the database: hub processes sharing one PostgreSQL count together."""

    def __init__(self, storage: HubStorage, clock: Callable[[], float] = time.time) -> None:
        self.storage, self.clock = storage, clock

    @staticmethod
    def _subjects(name: str, address: str) -> tuple[str, str]:
        return "name:" + name.casefold(), "address:" + address

    def blocked(self, name: str, address: str) -> bool:
        since = int(self.clock()) - WINDOW
        with self.storage._transaction() as cur:
            return any(cur.execute(self.storage._sql(
                "SELECT count(*) FROM hub_sign_in_failures WHERE subject = ? AND at > ?"), (subject, since)).fetchone()[0]
                >= FAILURES for subject in self._subjects(name, address))

    def failed(self, name: str, address: str) -> None:
        now, sql = int(self.clock()), self.storage._sql
        with self.storage._transaction() as cur:
            cur.execute(sql("DELETE FROM hub_sign_in_failures WHERE at <= ?"), (now - WINDOW,))
            cur.executemany(sql("INSERT INTO hub_sign_in_failures VALUES (?, ?)"),
                            [(subject, now) for subject in self._subjects(name, address)])
