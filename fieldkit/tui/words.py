"""The stored words a screen shows translated: stored values stay English codes, and these tables
give each a catalogue entry, so `_(word(...))` reads in the user's language."""

from __future__ import annotations

import json
from typing import Any

from fieldkit.i18n import N_, _, digits
from fieldkit.records.search import PatientSummary

WORDS = {
    # sex
    "female": N_("female"), "male": N_("male"), "other": N_("other"), "unknown": N_("unknown"),
    # referral urgency
    "routine": N_("routine"), "urgent": N_("urgent"), "emergency": N_("emergency"),
    # encounter kinds
    "visit": N_("visit"), "teletriage": N_("teletriage"), "home": N_("home"),
    "screening": N_("screening"), "vaccination": N_("vaccination"),
    # task status
    "open": N_("open"), "done": N_("done"), "cancelled": N_("cancelled"), "pending": N_("pending"),
    "sent": N_("sent"),
    # a referral's status (store/lifecycle.py) and its events
    "awaiting_approval": N_("awaiting the board"), "requested": N_("to send"), "approved": N_("approved"),
    "issued": N_("letter issued"), "acknowledged": N_("acknowledged"), "arrived": N_("arrived"),
    "completed": N_("completed"), "declined": N_("declined"), "redirected": N_("redirected"),
    "not_attended": N_("not attended"), "lost": N_("lost to follow-up"), "feedback": N_("feedback"),
    "resolve": N_("settled by a supervisor"),
    # referral kinds
    "referral": N_("referral"), "econsult": N_("e-consultation"), "transfer": N_("transfer"),
    # why a referral was not attended
    "cost": N_("cost"), "transport": N_("transport"), "security": N_("security"), "refused": N_("refused"),
    "died": N_("died"), "went_elsewhere": N_("went elsewhere"),
    # roles
    "clinician": N_("clinician"), "clerk": N_("clerk"), "supervisor": N_("supervisor"),
    # patient fields, as conflicts name them
    "given_name": N_("given name"), "other_names": N_("other names"), "family_name": N_("family name"),
    "birth_date": N_("birth date"), "birth_date_estimated": N_("birth date estimated"), "sex": N_("sex"),
    "phone": N_("phone"), "identifiers": N_("identifiers"), "locality": N_("locality"),
    "allergies": N_("allergies"),
}
# Units said as a word ("per minute") are translated; symbols (°C, mmHg, kg, %) are the same everywhere.
UNITS = {"/min": N_("/min")}


def born(patient: PatientSummary) -> str:
    """A patient summary's birth year in the locale's digits, `~` when estimated, `?` when unknown."""
    if not patient.birth_date:
        return "?"
    return digits(patient.birth_date[:4]) + ("~" if patient.birth_date_estimated else "")


def unit(symbol: str) -> str:
    """A measure's unit as the reader writes it."""
    return _(UNITS[symbol]) if symbol in UNITS else symbol


def word(stored: str | None) -> str:
    """A stored code word in the reader's language; an unknown one is shown as stored."""
    return _(WORDS[stored]) if stored in WORDS else (stored or "")


def value_text(value: Any) -> str:
    """A field's stored value as a reader sees it: a list as a list, never Python's repr."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
