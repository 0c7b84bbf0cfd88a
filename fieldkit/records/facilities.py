"""The facility list a referral names its ends from: shipped, plus a site's own file.

A referral stores a facility's code, so "referrals to us" and the counts by facility do not
depend on how a name was typed. A destination nobody has listed yet (a clinic over the border)
is still accepted as typed, and shown as unlisted: a patient is never left unreferred for want of
a list entry.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
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


_site: Path | None = None


def use_site(site_dir: Path | None) -> None:
    """Where this process's site list lives (the clinic's data directory), set once at start."""
    global _site
    _site = site_dir
    load.cache_clear()


@functools.cache
def load() -> dict[str, Facility]:
    shipped = resources.files("fieldkit.records").joinpath("programme_data", SITE_FILE)
    found = _read(shipped.read_text(encoding="utf-8"), SITE_FILE)
    site = _site / SITE_FILE if _site else None
    if site and site.is_file():
        found |= _read(site.read_text(encoding="utf-8"), str(site))
    return found


def find(typed: str) -> Facility | None:
    """The listed facility a user means by its code or its name, in any case; None if unlisted."""
    wanted = clean_text(typed).casefold()
    return next((f for f in load().values() if wanted in (f.code.casefold(), f.name.casefold())), None)


def name_of(code: str) -> str:
    """What a screen shows for a stored facility: its listed name, or the text as it was typed."""
    listed = load().get(code or "")
    return listed.name if listed else code or ""
