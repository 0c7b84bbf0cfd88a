"""The relay defect (T17) as it was found, through real processes: a supervisor revokes a stolen
laptop; the thief registers a patient; a laptop that has not heard of the revocation syncs with the
stolen one, then with a clinic laptop that has, then pushes to the hub."""

from __future__ import annotations

import json

from hub_support import enrol_hub, hub_process
from sync_support import PASSPHRASE, network
from test_cli import run
from test_cli_sync import serve

from fieldkit.store.keystore import Keystore


def fieldkit(laptop, *args):
    result = run(laptop.home.path, "--user", laptop.user.name, *args, passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sync_now(client, server) -> None:
    process, address = serve(server.home.path, "--user", server.user.name, passphrase=PASSPHRASE)
    try:
        fieldkit(client, "sync", "now", address)
    finally:
        process.terminate()
        process.wait(timeout=30)


def search(laptop, name: str) -> list:
    return json.loads(fieldkit(laptop, "patient", "search", name, "--json"))


def test_a_stolen_laptops_new_patient_is_held_by_the_relay_the_clinic_and_the_hub(tmp_path):
    base, stolen, clinic, relay = network(tmp_path, 4)
    for laptop in (base, stolen, clinic, relay):
        laptop.store.close()
    assert Keystore(base.home.keystore).users()  # the in-process set-up left real clinics behind

    fieldkit(stolen, "patient", "add", "--given", "Before", "--family", "Trần", "--sex", "female")
    sync_now(stolen, base)
    revoked = fieldkit(base, "network", "revoke", stolen.device[:8], "--reason", "stolen")
    assert "entries up to #" in revoked
    sync_now(clinic, base)

    fieldkit(stolen, "patient", "add", "--given", "After", "--family", "Trần", "--sex", "female")
    sync_now(relay, stolen)
    assert search(relay, "After")  # not told yet: it believes the laptop
    sync_now(relay, clinic)
    for laptop in (clinic, relay):
        assert not search(laptop, "After") and search(laptop, "Before"), laptop.name
        listed = json.loads(fieldkit(laptop, "network", "held", "--json"))
        assert [(row["origin"], row["entity"], row["op"]) for row in listed["held"]] == [
            (stolen.device, "patient", "create")]

    enrol_hub(tmp_path / "hub", base)
    with hub_process(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as (_, url):
        fieldkit(relay, "hub", "push", "--url", url)
        fieldkit(base, "hub", "push", "--url", url)
    assert not search(base, "After")
    shown = json.loads(fieldkit(base, "network", "show", "--json"))
    assert shown["held"] == 1
