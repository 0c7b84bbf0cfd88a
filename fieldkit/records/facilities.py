"""The facility list a referral names its ends from: shipped, plus a site's own file.

A referral stores a facility's code, so "referrals to us" and the counts by facility do not
depend on how a name was typed. A destination nobody has listed yet (a clinic over the border)
is still accepted as typed, and shown as unlisted: a patient is never left unreferred for want of
a list entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.records import site
from fieldkit.text import clean_text

SITE_FILE = "facilities.toml"


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    kind: str = ""
    country: str = ""
    services: tuple[str, ...] = field(default_factory=tuple)


def _read(text: str, where: str) -> dict[str, Facility]:
    try:
        rows = tomllib.loads(text).get("facility", [])
        return {row["code"]: Facility(row["code"], row["name"], row.get("kind", ""), row.get("country", ""),
                                      tuple(row.get("services", ()))) for row in rows}
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise FieldkitError(_("{file}: not a facility list ({problem})").format(file=where, problem=exc)) from None


@site.table
def load() -> dict[str, Facility]:
    """The shipped list and the site's (records/site.py), read once per process."""
    shipped = resources.files("fieldkit.records").joinpath("programme_data", SITE_FILE)
    found = _read(shipped.read_text(encoding="utf-8"), SITE_FILE)
    own = own_dir / SITE_FILE if (own_dir := site.directory()) else None
    if own and own.is_file():
        found |= _read(own.read_text(encoding="utf-8"), str(own))
    return found


def find(typed: str) -> Facility | None:
    """The listed facility a user means by its code or its name, in any case; None if unlisted."""
    wanted = clean_text(typed).casefold()
    return next((f for f in load().values() if wanted in (f.code.casefold(), f.name.casefold())), None)


def name_of(code: str) -> str:
    """What a screen shows for a stored facility: its listed name, or the text as it was typed."""
    listed = load().get(code or "")
    return listed.name if listed else code or ""
