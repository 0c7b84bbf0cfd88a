"""What every test of the clinic screen shares: a real clinic on disk, the loop guard, and ways
to wait for the screen instead of sleeping."""

from __future__ import annotations

import asyncio

import pytest

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import create_clinic
from fieldkit.store.threads import ConnectionThreads
from fieldkit.sync.identity import new_device_key

PASSPHRASE = "field kit 2026"
FATIMA = {"given_name": "فاطمة", "family_name": "الحسن", "sex": "female", "birth_date": "1988-03-02",
          "phone": "+963944123456", "allergies": ["penicillin"]}


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


async def until(pilot, condition, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen never got there")


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def screen(app) -> str:
    return type(app.screen).__name__


def passphrase_field_ready(app) -> bool:
    return screen(app) == "UnlockScreen" and getattr(app.screen.focused, "id", None) == "passphrase"


async def sign_in(pilot, passphrase=PASSPHRASE) -> None:
    await until(pilot, lambda: passphrase_field_ready(pilot.app))
    await pilot.press(*passphrase, "enter")
    await until(pilot, lambda: screen(pilot.app) == "HomeScreen")


async def open_encounter_for_fatima(pilot) -> None:
    app = pilot.app
    await pilot.press(*"fatima")
    await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
    await pilot.press("f5")
    await until(pilot, lambda: screen(app) == "EncounterScreen")


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
