"""A short PIN that unlocks the screen again, valid only while the app runs.

The database key still comes from the passphrase (Argon2id) at sign-in; the PIN only lifts the
lock over an already open clinic, so it lives in memory alone and dies with the process. Anyone
who can read this process's memory already holds the database key, so a keyed hash is enough;
what protects a 4-digit PIN is the attempt limit, after which only the passphrase unlocks.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _, digits
from fieldkit.text import ascii_digits

PIN_LENGTH = (4, 6)  # shorter than any passphrase (8 or more), so the two never mix
ATTEMPTS = 5


def looks_like_pin(text: str) -> bool:
    text = ascii_digits(text.strip())
    return text.isdigit() and PIN_LENGTH[0] <= len(text) <= PIN_LENGTH[1]


class Pin:
    def __init__(self, pin: str) -> None:
        if not looks_like_pin(pin):
            raise FieldkitError(_("a PIN is {low} to {high} digits").format(low=digits(str(PIN_LENGTH[0])),
                                                                            high=digits(str(PIN_LENGTH[1]))))
        self._key = os.urandom(32)
        self._digest = self._hash(pin)
        self.attempts_left = ATTEMPTS

    def _hash(self, pin: str) -> bytes:
        return hmac.new(self._key, ascii_digits(pin.strip()).encode(), hashlib.sha256).digest()

    @property
    def spent(self) -> bool:
        return self.attempts_left <= 0

    def check(self, pin: str) -> None:
        """Raise unless `pin` is right; too many wrong tries spend the PIN for good."""
        if self.spent:
            raise FieldkitError(_("too many wrong PINs: unlock with your passphrase"))
        if hmac.compare_digest(self._digest, self._hash(pin)):
            self.attempts_left = ATTEMPTS
            return
        self.attempts_left -= 1
        if self.spent:
            raise FieldkitError(_("too many wrong PINs: unlock with your passphrase"))
        raise FieldkitError(_("wrong PIN ({n} tries left)").format(n=digits(str(self.attempts_left))))
