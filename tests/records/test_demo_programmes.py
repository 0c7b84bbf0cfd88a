"""The demo clinic shows every new list something real on first start: a cohort with check-ins
due, red and missed, the registries, and referrals in every state."""

from __future__ import annotations

from datetime import date

from fieldkit.records import lab_import, programme_lists, referral_lists, registry, screening, vaccine_lists
from fieldkit.records.demo import seed_clinic
from fieldkit.records.demo_programmes import FACILITY, REGISTRY, seed_programmes
from fieldkit.records.demo_screening import HBSAG_POSITIVE, NON_RESPONDERS, lab_file, seed_screening
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import STATUSES

DEMO = User("demo", "demo", "supervisor")


def test_every_programme_referral_and_staff_health_list_has_something_to_show(store, tmp_path):
    seed_clinic(store, DEMO.id, 1200)
    seed_programmes(store, DEMO)
    today = date.today()
    tracker = store.read(lambda conn: referral_lists.tracker(conn, today))
    assert all(tracker[name] for name in tracker), {name: len(items) for name, items in tracker.items()}
    assert len(store.read(lambda conn: referral_lists.to_us(conn, FACILITY))) == 3
    statuses = {row["status"] for row in store.read(registry.referral_rows)}
    assert statuses == set(STATUSES), set(STATUSES) - statuses
    assert store.read(lambda conn: programme_lists.worklist(conn, today))
    assert store.read(lambda conn: programme_lists.missed_twice(conn, today))
    assert len(store.read(programme_lists.escalations)) == 1
    registered = store.read(lambda conn: registry.line_list(conn, "oncology-abroad"))
    assert registry.counts(registered, "destination_country", unit="patients")["groups"] == REGISTRY
    operated = store.read(lambda conn: registry.line_list(conn, "surgical-mission", where={"outcome": "operated"}))
    assert len(operated) == 16

    seed_screening(store, DEMO)
    [planned] = store.read(screening.rounds)
    summary = store.read(lambda conn: screening.round_summary(conn, planned["id"]))
    assert summary["tests"]["hbsag"]["positive"] == len(HBSAG_POSITIVE)
    assert summary["vaccination"]["repeat_series"] == len(NON_RESPONDERS) and summary["vaccination"]["immune"] > 10
    due = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=today))
    assert {row.state for row in due} >= {"due", "overdue"}
    lab_file(store, tmp_path / "lab.csv")
    plan = store.read(lambda conn: lab_import.check(tmp_path / "lab.csv", "homs-phl", conn))
    assert (plan.counts["quarantined"], plan.counts["errors"]) == (1, 1), plan.counts
