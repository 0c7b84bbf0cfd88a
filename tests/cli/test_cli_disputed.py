"""A safety field two laptops changed at once shows as disputed wherever it is shown, never as one
side's value (issue 15): the chart, `patient show` as text and as JSON."""

from __future__ import annotations

import asyncio
import json

import pytest
from sync_support import PASSPHRASE, network, sync
from test_cli import run
from tui_support import sign_in, text, until

from fieldkit.tui.app import FieldkitApp


@pytest.fixture
def disputed(tmp_path):
    """A patient whose birth date two laptops changed, each unaware of the other; both synced."""
    here, there = network(tmp_path, 2)
    patient = here.clinic.register({"given_name": "Hương", "family_name": "Nguyễn", "sex": "female",
                                    "birth_date": "1990-05-14"}).patient_id
    asyncio.run(sync(there, here))
    here.clinic.edit(patient, {"birth_date": "1990-05-15"})
    there.clinic.edit(patient, {"birth_date": "1991-05-14"})
    asyncio.run(sync(there, here))
    for laptop in (here, there):
        laptop.store.close()
    return here, patient


def test_patient_show_says_the_birth_date_is_disputed_and_gives_both(disputed):
    here, patient = disputed
    show = run(here.home.path, "--user", here.user.name, "patient", "show", patient, passphrase=PASSPHRASE)
    assert show.returncode == 0, show.stderr
    assert "born DISPUTED 1990-05-15 | 1991-05-14" in show.stdout
    record = json.loads(run(here.home.path, "--user", here.user.name, "patient", "show", patient, "--json",
                            passphrase=PASSPHRASE).stdout)
    assert sorted(record["disputed"]["birth_date"]) == ["1990-05-15", "1991-05-14"]


async def test_the_chart_shows_both_birth_dates_until_a_supervisor_settles_them(disputed):
    here, _ = disputed
    app = FieldkitApp(here.home, user=here.user.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        await pilot.press(*"hương")
        await until(pilot, lambda: app.screen.query_one("#results").row_count >= 1)
        await pilot.press("enter")
        await until(pilot, lambda: "DISPUTED" in text(app, "#demographics"))
        shown = text(app, "#demographics")
        assert "1990" in shown and "1991" in shown and "waits" not in shown
