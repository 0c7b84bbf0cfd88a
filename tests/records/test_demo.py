"""The demo clinic: deterministic, valid, five naming cultures in their scripts, seeded into a store."""

from __future__ import annotations

import itertools
import unicodedata
from collections import defaultdict
from datetime import date, timedelta

import pytest

from fieldkit.records.demo import people, seed_clinic
from fieldkit.records.models import Encounter, Patient
from fieldkit.records.search import search
from fieldkit.store.db import Change

TODAY = date(2026, 11, 22)
# Culture by country calling code (phones are stored as +digits).
CALLING_CODES = {"arabic": ("+963", "+20", "+218"), "persian": ("+98",), "vietnamese": ("+84",),
                 "french": ("+33",), "english": ("+44",)}
ZWNJ = "\u200c"


@pytest.fixture(scope="module")
def crowd():
    return list(people(500, today=TODAY))


def by_culture(crowd) -> dict[str, list[Patient]]:
    groups = defaultdict(list)
    for person in crowd:
        for culture, codes in CALLING_CODES.items():
            if person.patient.phone.startswith(codes):
                groups[culture].append(person.patient)
    return groups


def names(patients: list[Patient]) -> list[str]:
    return [part for p in patients for part in (p.given_name, p.other_names, p.family_name) if part]


def script(name: str) -> set[str]:
    return {unicodedata.name(ch).split()[0] for ch in name if ch.isalpha()}


def test_same_seed_and_day_give_the_same_people():
    def snapshot(seed):
        return [(p.patient, p.encounters) for p in people(60, seed=seed, today=TODAY)]

    assert snapshot(1) == snapshot(1)
    assert [patient for patient, _ in snapshot(1)] != [patient for patient, _ in snapshot(2)]


def test_people_are_generated_lazily():
    first = list(itertools.islice(people(10**9, today=TODAY), 3))
    assert len(first) == 3 and all(isinstance(p.patient, Patient) for p in first)


def test_every_patient_and_encounter_validates(crowd):
    assert len(crowd) == 500
    for person in crowd:
        assert isinstance(person.patient, Patient)
        for data in person.encounters:
            assert "patient_id" not in data
            encounter = Encounter.model_validate({**data, "patient_id": "x"})
            assert encounter.diagnoses
            if encounter.follow_up:
                assert TODAY - timedelta(days=7) <= encounter.follow_up.due <= TODAY + timedelta(days=30)


def test_shares_are_those_of_a_field_clinic(crowd):
    patients = [p.patient for p in crowd]
    encounters = [Encounter.model_validate({**e, "patient_id": "x"}) for p in crowd for e in p.encounters]
    assert 1.3 <= len(encounters) / len(crowd) <= 1.7
    assert {len(p.encounters) for p in crowd} == {0, 1, 2, 3}
    assert {e.kind for e in encounters} == {"visit", "teletriage", "home", "screening", "vaccination"}
    estimated = [p for p in patients if p.birth_date_estimated]
    assert 0.02 <= len(estimated) / len(patients) <= 0.09
    assert all((p.birth_date.month, p.birth_date.day) == (7, 1) for p in estimated)
    assert 0.05 <= sum(bool(p.allergies) for p in patients) / len(patients) <= 0.16
    assert 0.6 <= sum(bool(p.phone) for p in patients) / len(patients) <= 0.95
    assert any(p.identifiers for p in patients)
    ages = [(TODAY - p.birth_date).days / 365.25 for p in patients]
    assert min(ages) >= 0 and max(ages) < 91 and sum(age < 5 for age in ages) > 50
    assert 0.03 <= sum(bool(e.referral) for e in encounters) / len(encounters) <= 0.15
    assert 0.12 <= sum(bool(e.follow_up) for e in encounters) / len(encounters) <= 0.28
    assert any(e.prescriptions for e in encounters)
    assert any(e.hypercapnic for e in encounters)


def test_penicillin_allergy_is_never_given_a_penicillin(crowd):
    for person in crowd:
        if "penicillin" in person.patient.allergies:
            drugs = {rx["drug"] for e in person.encounters for rx in e.get("prescriptions", ())}
            assert not drugs & {"amoxicillin", "cloxacillin"}


def test_five_cultures_in_roughly_even_shares(crowd):
    groups = by_culture(crowd)
    phoned = sum(len(group) for group in groups.values())
    assert phoned > 300
    for culture in CALLING_CODES:
        assert 0.1 <= len(groups[culture]) / phoned <= 0.3, culture


def test_each_culture_is_written_in_its_own_script(crowd):
    groups = by_culture(crowd)
    arabic, persian = names(groups["arabic"]), names(groups["persian"])
    assert all(script(name) == {"ARABIC"} for name in arabic + persian)
    assert not any(set(name) & set("یکگچپژ" + ZWNJ) for name in arabic)
    assert any(name.startswith("ال") for name in arabic)
    for mark in ("ی", "ک", ZWNJ):  # Persian yeh, keheh, and the joiner inside compound names
        assert any(mark in name for name in persian), mark

    vietnamese = names(groups["vietnamese"])
    assert all(script(name) == {"LATIN"} and unicodedata.is_normalized("NFC", name) for name in vietnamese)
    decomposed = "".join(unicodedata.normalize("NFD", name) for name in vietnamese)
    assert "\u0323" in decomposed and "\u0309" in decomposed and "\u031b" in decomposed  # dot, hook, horn
    assert any(p.family_name == "Nguyễn" for p in groups["vietnamese"])
    assert all(p.sex == "female" for p in groups["vietnamese"] if p.other_names == "Thị")
    assert all(p.sex == "male" for p in groups["vietnamese"] if p.other_names == "Văn")

    french, english = names(groups["french"]), names(groups["english"])
    assert all(script(name) == {"LATIN"} for name in french + english)
    assert any(set(name) & set("éèçëï") for name in french)
    assert sum(name.isascii() for name in english) > 0.95 * len(english)


def test_some_patients_are_registered_twice_under_another_spelling(crowd):
    by_phone = defaultdict(list)
    for person in crowd:
        if person.patient.phone:
            by_phone[person.patient.phone].append(person.patient)
    twice = [pair for pair in by_phone.values() if len(pair) > 1]
    assert 1 <= len(twice) <= 15
    for first, second in twice:
        assert first.full_name != second.full_name
        assert (first.sex, first.birth_date) == (second.sex, second.birth_date)


def test_seed_clinic_journals_everyone_in_batches(make_store):
    store = make_store()
    calls = []
    report = seed_clinic(store, "demo", 200, seed=7, today=TODAY, progress=lambda *args: calls.append(args))
    expected = [e for p in people(200, seed=7, today=TODAY) for e in p.encounters]
    assert (report.patients, report.encounters) == (200, len(expected))
    assert report.seconds > 0
    assert len(calls) > 1 and calls == sorted(calls) and calls[-1] == (200, 200)

    def count(table):
        return store.read(lambda conn: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    assert count("patients") == 200
    assert count("encounters") == len(expected)
    assert count("referrals") == sum("referral" in e for e in expected)
    assert count("followups") == sum("follow_up" in e for e in expected)
    entries = store.entries_after({}, limit=10**6)
    assert len(entries) == 200 + len(expected) + count("referrals") + count("followups")
    assert {e.author for e in entries} == {"demo"}

    found = store.read(lambda conn: search(conn, "محمد"))
    assert any("محمد" in p.full_name for p in found)
    found = store.read(lambda conn: search(conn, "nguyen"))
    assert found and any(p.family_name == "Nguyễn" for p in found)


def test_the_demo_clinic_has_ninety_days_of_visits_in_clinic_hours(make_store):
    from datetime import datetime

    from fieldkit.records.demo import CLOSING, HISTORY_DAYS, OPENING
    from fieldkit.records.queries import day_summary

    store = make_store()
    today = date.today()
    seed_clinic(store, "demo", 400, seed=3, today=today)

    def rows(sql):
        return store.read(lambda conn: conn.execute(sql).fetchall())

    seen = [(patient, datetime.fromtimestamp(ms / 1000)) for patient, ms in
            rows("SELECT patient_id, recorded FROM encounters ORDER BY recorded")]
    days = {moment.date() for _, moment in seen}
    assert len(days) > 0.8 * HISTORY_DAYS
    assert today - timedelta(days=HISTORY_DAYS) < min(days) and max(days) <= today
    assert all(OPENING <= moment.time() <= CLOSING for _, moment in seen)
    assert seen[-1][1] <= datetime.now()
    # Registered at the first visit, never after an encounter of theirs.
    registered = {entity: hlc >> 16 for entity, hlc in rows("SELECT entity_id, hlc FROM journal WHERE entity = 'patient'")}
    assert all(registered[patient] <= moment.timestamp() * 1000 for patient, moment in seen)
    # A follow-up falls due after the visit that booked it; none left overdue by more than a week or so.
    for due, ms in rows("SELECT f.due, e.recorded FROM followups f JOIN encounters e ON e.id = f.encounter_id"):
        assert date.fromisoformat(due) > datetime.fromtimestamp(ms / 1000).date()
        assert date.fromisoformat(due) >= today - timedelta(days=7)
    # The day summary of an ordinary day of the past has patients in it, by the hour.
    busiest = max(days, key=lambda day: sum(moment.date() == day for _, moment in seen))
    summary = store.read(lambda conn: day_summary(conn, busiest.isoformat()))
    assert summary["encounters"] >= 3 and sum(hour > 0 for hour in summary["hours"]) >= 2
    # The laptop's own clock takes over afterwards: the next entry is stamped now, after them all.
    [entry] = store.append([Change("patient", "x" * 32, "create", {"fields": {"given_name": "X", "sex": "female"}})],
                           user="demo")
    assert abs((entry.hlc >> 16) / 1000 - datetime.now().timestamp()) < 60
