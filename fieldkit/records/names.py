"""A patient's name as one line: what lists, charts and search results show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAME_PARTS = ("given_name", "other_names", "family_name")


def full_name(record: Mapping[str, Any]) -> str:
    """The name parts of a patient record (a dict of its fields) as one line."""
    return " ".join(part for part in (record.get(name) for name in NAME_PARTS) if part)
