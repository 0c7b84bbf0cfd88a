"""The hub's replica: the laptops' own fold of what the hub holds, refreshed incrementally into the
reporting tables (hub/replica.py, hub/reporting.py), on a real SQLCipher replica and hub storage."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hub_support import open_storage
from hypothesis import given, settings
from hypothesis import strategies as st
from report_support import DOCTOR, registered, replica, tables, upload

from fieldkit.hub import reporting
from fieldkit.hub.replica import refresh
from fieldkit.records import enrolments, immunizations, labs, referral_services, screening
from fieldkit.store.db import Change

TODAY = date.today()


def clinic_work(store, prefix: str) -> dict[str, str]:
    """A little of everything the reports read: patients, a closed and an open enrolment, a referral
    that arrived, a screening round's results, a dose. Returns some of the ids."""
    def job(tx):
        ids = {"patient": registered(tx, f"{prefix} Salma", sex="female", birth_date="1980-02-01")}
        other = registered(tx, f"{prefix} Omar", sex="male")
        ids["enrolment"] = enrolments.enrol(tx, DOCTOR, {"patient_id": ids["patient"], "programme": "home-triage",
                                                         "enrolled_on": (TODAY - timedelta(days=20)).isoformat()})
        enrolments.move(tx, DOCTOR, ids["enrolment"], "completed", outcome="died")
        enrolments.enrol(tx, DOCTOR, {"patient_id": other, "programme": "oncology-abroad", "attributes": {
            "destination_country": "Egypt", "cancer_site": "colon", "branch_office": "Benghazi"}})
        ids["referral"] = referral_services.refer(tx, DOCTOR, {"patient_id": other, "to_facility": "EG-NCI",
                                                               "urgency": "urgent"})
        referral_services.record_event(tx, DOCTOR, ids["referral"], {"type": "sent"})
        referral_services.record_event(tx, DOCTOR, ids["referral"], {"type": "arrived"})
        ids["round"] = screening.create_round(tx, DOCTOR, {"name": f"{prefix} staff round", "starts": TODAY.isoformat(),
                                                           "tests": ["hbsag"]})
        labs.record(tx, DOCTOR, {"patient_id": ids["patient"], "test": "hbsag", "value": "positive",
                                 "round_id": ids["round"]})
        labs.record(tx, DOCTOR, {"patient_id": other, "test": "hbsag", "value": "negative", "round_id": ids["round"]})
        immunizations.give(tx, DOCTOR, {"patient_id": other, "vaccine": "hepb-adult", "lot": "L1"})
        return ids
    return store.write(job)


def test_the_replica_folds_what_the_hub_holds_exactly_as_a_laptop_holding_it_does(tmp_path, make_store):
    one, two, everything = make_store(), make_store(), make_store()
    clinic_work(one, "A")
    clinic_work(two, "B")
    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    upload(storage, one, two)
    with replica(tmp_path / "replica.db") as held:
        assert refresh(storage, held) == storage.count()
        for laptop in (one, two):  # a laptop that received both clinics' work, as a peer receives it
            everything.ingest(laptop.entries_after({}, 10**9))
        assert held.store.state_hash() == everything.state_hash()
        assert refresh(storage, held) == 0  # nothing new: nothing folded, nothing copied
    rows = tables(storage)
    storage.close()
    assert {table: len(found) for table, found in rows.items()} == {
        "report_patients": 4, "report_enrolments": 4, "report_referrals": 2, "report_lab_results": 4,
        "report_immunizations": 2}
    referral = next(r for r in rows["report_referrals"] if r[0] != "")
    assert referral[8] == "arrived" and referral[9] == TODAY.isoformat() and referral[11] == 0  # days to arrival
    assert {r[9] for r in rows["report_lab_results"]} == {"yes", "no"}  # positive, from the interpretation
    assert sorted(r[8] for r in rows["report_patients"]) == ["no", "no", "yes", "yes"]  # vaccinated (hepatitis B)


def test_a_refresh_is_incremental_sees_a_later_edit_and_resumes_where_it_was_cut(tmp_path, make_store):
    laptop = make_store()
    ids = clinic_work(laptop, "A")
    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    upload(storage, laptop)
    with replica(tmp_path / "replica.db") as held:
        refresh(storage, held)
        eid = laptop.write(lambda tx: enrolments.enrol(tx, DOCTOR, {"patient_id": ids["patient"],
                                                                    "programme": "home-triage"}))
        laptop.write(lambda tx: enrolments.move(tx, DOCTOR, eid, "completed", outcome="escalated"))
        new = upload(storage, laptop)
        # Cut: folded into the replica, the hub killed before the reporting tables were written.
        held.ingest(storage.outgoing(held.store.version_vector(), 10**9))
        assert storage.query("SELECT outcome FROM report_enrolments WHERE id = ?", [eid]) == []
        assert refresh(storage, held) == 0  # nothing left to fold, but the marks left are copied
        assert storage.query("SELECT status, outcome FROM report_enrolments WHERE id = ?", [eid]) == [
            ("completed", "escalated")]
        assert held.store.read(lambda conn: conn.execute("SELECT count(*) FROM report_dirty").fetchone()[0]) == 0
        assert new == 2
    storage.close()


def test_a_replica_that_lags_never_undoes_a_newer_copy(tmp_path, make_store):
    """Two hub processes on one PostgreSQL keep a replica each; the slower one's copies of a record
    folded from fewer entries are refused, whatever order the two write in."""
    laptop = make_store()
    eid = laptop.write(lambda tx: enrolments.enrol(tx, DOCTOR, {"patient_id": registered(tx, "Salma"),
                                                                "programme": "home-triage"}))
    laptop.write(lambda tx: [registered(tx, f"filler {n}") for n in range(60)])
    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    upload(storage, laptop)  # two uploads: the hub holds a checkpoint between them, where a batch may end
    laptop.write(lambda tx: enrolments.move(tx, DOCTOR, eid, "completed", outcome="died"))
    upload(storage, laptop)
    with replica(tmp_path / "ahead.db") as ahead, replica(tmp_path / "behind.db") as behind:
        refresh(storage, ahead)
        copied = tables(storage)
        behind.ingest(storage.outgoing({}, 50))  # the first batch only: the enrolment before it closed
        assert behind.store.read(lambda conn: conn.execute("SELECT status FROM enrolments").fetchall()) == [("active",)]
        reporting.copy(storage, behind.store)
        assert tables(storage) == copied
        assert storage.query("SELECT outcome FROM report_enrolments WHERE id = ?", [eid]) == [("died",)]
    storage.close()


def test_a_revocation_that_holds_entries_back_takes_their_rows_out_of_the_reports(tmp_path, make_store):
    base, lost = make_store(), make_store()
    lost_ids = clinic_work(lost, "L")
    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    upload(storage, lost)
    with replica(tmp_path / "replica.db") as held:
        refresh(storage, held)
        assert storage.query("SELECT count(*) FROM report_patients WHERE id = ?", [lost_ids["patient"]]) == [(1,)]
        # A supervisor revokes the lost laptop: only its first entry (the first patient's) stands.
        base.append([Change("device", lost.device_id, "revoke", {"cutoff": 1})], user=DOCTOR.id)
        upload(storage, base)
        refresh(storage, held)
        assert [row[0] for row in storage.query("SELECT id FROM report_patients")] == [lost_ids["patient"]]
        assert storage.query("SELECT count(*) FROM report_enrolments") == [(0,)]
    storage.close()


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """Two laptops' work uploaded in several goes (so a batch may end at several places in each
    laptop's chain), and the reporting tables one refresh makes of it."""
    from fieldkit.store.db import Store

    root = tmp_path_factory.mktemp("laptops")
    stores = [Store(root / f"{n}.db", bytes([n]) * 32, device_id=f"{n:02d}" + "e" * 30) for n in (1, 2)]
    storage = open_storage(f"sqlite:///{root / 'hub.db'}")
    for n, store in enumerate(stores):
        ids = clinic_work(store, f"L{n}")
        upload(storage, store)
        store.write(lambda tx, n=n: [registered(tx, f"L{n} filler {k}") for k in range(70)])
        upload(storage, store)
        store.write(lambda tx, ids=ids: referral_services.record_event(tx, DOCTOR, ids["referral"], {
            "type": "feedback", "findings": "seen"}))
        eid = store.write(lambda tx, ids=ids: enrolments.enrol(tx, DOCTOR, {"patient_id": ids["patient"],
                                                                             "programme": "home-triage"}))
        upload(storage, store)
        store.write(lambda tx, eid=eid: enrolments.move(tx, DOCTOR, eid, "completed", outcome="lost"))
        upload(storage, store)
    with replica(root / "whole.db") as whole:
        refresh(storage, whole)
    yield storage, tables(storage)
    storage.close()
    for store in stores:
        store.close()


@settings(max_examples=15)
@given(limit=st.integers(1, 150), cuts=st.lists(st.integers(1, 3), max_size=4))
def test_however_a_refresh_is_chunked_and_cut_the_reporting_tables_are_the_same(tmp_path_factory, held, limit, cuts):
    storage, whole = held
    with storage._transaction() as cur:  # the tables as a hub that never refreshed has them
        for table in whole:
            cur.execute(f"DELETE FROM {table}")
    with replica(tmp_path_factory.mktemp("chunked") / "replica.db") as fresh:
        for batches in cuts:  # each cut: a refresh stopped after that many batches
            asked = iter(range(batches + 1))
            refresh(storage, fresh, limit=limit, stop=lambda asked=asked, batches=batches: next(asked) >= batches)
        refresh(storage, fresh, limit=limit)
    assert tables(storage) == whole
