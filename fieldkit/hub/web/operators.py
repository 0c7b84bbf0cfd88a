"""The hub's operators: programme managers who read its pages in a browser. They are accounts of the
hub alone, never laptop users, and their passwords are kept only as Argon2id hashes.

Every method is blocking (a hash costs about a tenth of a second and 64 MiB): call it in a thread.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fieldkit.errors import FieldkitError
from fieldkit.hub.storage import HubStorage
from fieldkit.i18n import LANGUAGES, _

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing a megabyte-long "password" would only burn the hub's CPU
NAME = re.compile(r"[\w.@-]{1,64}")  # letters of any script, digits and . _ @ -


@dataclass(frozen=True)
class Operator:
    name: str
    active: bool
    language: str
    created: str  # UTC, ISO 8601


def password_problem(password: str) -> str | None:
    """Why `password` cannot be an operator's password, or None."""
    if len(password) < MIN_PASSWORD:
        return _("A password has at least {count} characters.").format(count=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return _("A password has at most {count} characters.").format(count=MAX_PASSWORD)
    return None


def _normal(password: str) -> bytes:
    # The same password typed on another keyboard (composed or decomposed accents) is the same password.
    return unicodedata.normalize("NFKC", password).encode()


class Operators:
    def __init__(self, storage: HubStorage, hasher: PasswordHasher | None = None) -> None:
        # argon2-cffi's defaults are RFC 9106's second recommendation (Argon2id, 64 MiB, t=3, p=4),
        # above OWASP's floor (19 MiB, t=2); hashes made under older parameters are redone at sign-in.
        self.storage, self.hasher = storage, hasher or PasswordHasher()

    @cached_property
    def _dummy(self) -> str:
        """A hash to check an unknown name's password against, so that it fails as slowly as a known one's."""
        return self.hasher.hash(b"not anyone's password")

    def add(self, name: str, password: str, language: str = "en") -> Operator:
        if not NAME.fullmatch(name):
            raise FieldkitError(_("An operator's name is 1 to 64 letters, digits, or . _ @ -, without spaces."))
        if problem := password_problem(password):
            raise FieldkitError(problem)
        if language not in LANGUAGES:
            raise FieldkitError(_("No language {language}: choose one of {languages}.").format(
                language=language, languages=", ".join(LANGUAGES)))
        operator = Operator(name, True, language, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        hashed = self.hasher.hash(_normal(password))
        with self.storage._transaction() as cur:
            if cur.execute(self.storage._sql("SELECT 1 FROM hub_operators WHERE name = ?"), (name,)).fetchone():
                raise FieldkitError(_("There is already an operator named {name}.").format(name=name))
            cur.execute(self.storage._sql("INSERT INTO hub_operators VALUES (?, ?, 1, ?, ?)"),
                        (name, hashed, language, operator.created))
        return operator

    def all(self) -> list[Operator]:
        with self.storage._transaction() as cur:
            rows = cur.execute("SELECT name, active, language, created FROM hub_operators ORDER BY name").fetchall()
        return [Operator(name, bool(active), language, created) for name, active, language, created in rows]

    def disable(self, name: str) -> None:
        """No more sign-ins, and the operator's open sessions end at once."""
        with self.storage._transaction() as cur:
            found = cur.execute(self.storage._sql("UPDATE hub_operators SET active = 0 WHERE name = ?"), (name,))
            if found.rowcount != 1:
                raise FieldkitError(_("There is no operator named {name}.").format(name=name))
            cur.execute(self.storage._sql("DELETE FROM hub_sessions WHERE operator = ?"), (name,))

    def set_language(self, name: str, language: str) -> None:
        with self.storage._transaction() as cur:
            cur.execute(self.storage._sql("UPDATE hub_operators SET language = ? WHERE name = ?"), (language, name))

    def verify(self, name: str, password: str) -> Operator | None:
        """The active operator whose name and password these are, or None, after the same work either way."""
        with self.storage._transaction() as cur:
            row = cur.execute(self.storage._sql(
                "SELECT hash, active, language, created FROM hub_operators WHERE name = ?"), (name,)).fetchone()
        if len(password) > MAX_PASSWORD:
            return None
        try:
            self.hasher.verify(row[0] if row else self._dummy, _normal(password))
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row[1]:
            return None
        if self.hasher.check_needs_rehash(row[0]):
            with self.storage._transaction() as cur:
                cur.execute(self.storage._sql("UPDATE hub_operators SET hash = ? WHERE name = ?"),
                            (self.hasher.hash(_normal(password)), name))
        return Operator(name, True, row[2], row[3])
