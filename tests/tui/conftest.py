"""Fixtures of the clinic screen's tests: a real clinic on disk, and database calls from the event
loop forbidden (the screen would freeze on them)."""

from __future__ import annotations

import asyncio

import pytest
from tui_support import FATIMA, PASSPHRASE

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import create_clinic
from fieldkit.store.threads import ConnectionThreads
from fieldkit.sync.identity import new_device_key


@pytest.fixture(autouse=True)
def database_off_the_loop(monkeypatch):
    """Fail any test in which a database call waits on a thread that runs an event loop."""
    original = ConnectionThreads.call

    def call(self, job):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return original(self, job)
        raise AssertionError("a database call ran on the event loop")

    monkeypatch.setattr(ConnectionThreads, "call", call)


@pytest.fixture
def home(tmp_path):
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key)
    Clinic(store, user).register(FATIMA)
    store.close()
    return home


@pytest.fixture
def conflict(home, tmp_path):
    """Two laptops changed Fatima's birth date without seeing each other; returns her id."""
    from fieldkit.store.db import Store
    from fieldkit.store.keystore import User
    from fieldkit.store.session import unlock

    here, supervisor = unlock(home, "amina", PASSPHRASE)
    other = Store(tmp_path / "other-laptop.db", bytes(range(32)), device_id="f" * 32)
    other.ingest(here.entries_after({}, limit=10**6))
    [patient] = Clinic(here, supervisor).search("fatima")
    Clinic(here, supervisor).edit(patient.id, {"birth_date": "1987-03-02"})
    Clinic(other, User("nurse", "hoa", "clinician")).edit(patient.id, {"birth_date": "1989-03-02"})
    here.ingest(other.entries_after(here.version_vector(), limit=10**6))
    other.close()
    here.close()
    return patient.id
