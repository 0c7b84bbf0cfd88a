"""A patient's name as one line: what lists, charts and search results show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

NAME_PARTS = ("given_name", "other_names", "family_name")
NAME_FIELDS = (*NAME_PARTS, "name_order")  # what a list reads to show a name
# Vietnamese names are said family first (Nguyễn Thị Hương): stored per patient, since a clinic
# sees people of several customs, and chosen at registration from the clerk's language.
NameOrder = Literal["given-first", "family-first"]
NAME_ORDERS: tuple[NameOrder, ...] = ("given-first", "family-first")
FAMILY_FIRST_LANGUAGES = frozenset({"vi"})


def full_name(record: Mapping[str, Any]) -> str:
    """The name parts of a patient record (a dict of its fields) as one line, in its own order."""
    parts = NAME_PARTS[::-1] if record.get("name_order") == "family-first" else NAME_PARTS
    return " ".join(part for part in (record.get(name) for name in parts) if part)


def usual_order(language: str) -> NameOrder:
    return "family-first" if language in FAMILY_FIRST_LANGUAGES else "given-first"
