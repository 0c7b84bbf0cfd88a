"""Shared fixtures: real SQLCipher files in a temporary directory, with a cheap KDF for speed.

The production Argon2id cost (about half a second a guess) is measured in bench/ and exercised by
the CLI tests; unit tests use a small cost so hundreds of unlocks stay fast.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import settings

from fieldkit.store import keystore
from fieldkit.store.db import Store

# Timing is what bench/ measures; under a loaded CI machine a per-example deadline only makes a
# correct property fail now and then.
settings.register_profile("fieldkit", deadline=None)
settings.load_profile("fieldkit")

CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch):
    monkeypatch.setattr(keystore, "KDF", CHEAP_KDF)


def device_id(n: int) -> str:
    return f"{n:02d}" + "d" * 30


@pytest.fixture
def make_store(tmp_path):
    """Open keyed SQLCipher stores, one per simulated laptop; all closed at the end of the test."""
    opened: list[Store] = []

    def make(device: int | None = None) -> Store:
        n = next(_ids)
        store = Store(tmp_path / f"laptop{n}.db", os.urandom(32), device_id=device_id(device or n))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
