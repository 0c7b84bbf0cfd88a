"""The site's own tables, beside what fieldkit ships: its facilities and its programmes.

They live in the clinic's data directory (`facilities.toml`, `programmes/*.toml`), which the
command line and the screen name once at start; until then only the shipped tables are read.
A table read from them is read once per process (`@site.table`), and again after `use`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_dir: Path | None = None
_tables: list[Any] = []


def table(read: F) -> F:
    cached = functools.cache(read)
    _tables.append(cached)
    return cached  # type: ignore[return-value]


def use(data_dir: Path | None) -> None:
    global _dir
    _dir = data_dir
    for cached in _tables:
        cached.cache_clear()


def directory() -> Path | None:
    return _dir
