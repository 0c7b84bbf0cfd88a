"""Tests of the encrypted store: its surface, journal, fold and what many processes do to it."""

from __future__ import annotations

import os

import pytest

from fieldkit.store.db import Store
from fieldkit.store.home import Home
from fieldkit.store.session import create_clinic
from fieldkit.sync.identity import new_device_key

PASSPHRASE = "correct horse battery"
CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}


@pytest.fixture
def store(tmp_path):
    """A keyed store of one laptop, with no users: for what the store does on its own."""
    opened = Store(tmp_path / "clinic.db", os.urandom(32), device_id="a" * 32)
    yield opened
    opened.close()


@pytest.fixture
def clinic(tmp_path):
    """A clinic as `fieldkit init` makes it (key slots, first supervisor amina): (home, store)."""
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, _ = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key,
                             kdf=CHEAP_KDF)
    yield home, store
    store.close()
