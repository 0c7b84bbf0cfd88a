"""The demo clinic shows every new list something real on first start: a cohort with check-ins
due, red and missed, the registries, and referrals in every state."""

from __future__ import annotations

from datetime import date

from fieldkit.records import programme_lists, referral_lists, registry
from fieldkit.records.demo import seed_clinic
from fieldkit.records.demo_programmes import FACILITY, REGISTRY, seed_programmes
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import STATUSES

DEMO = User("demo", "demo", "supervisor")


def test_every_programme_and_referral_list_has_something_to_show(store):
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
