"""The supervisor's queries: a day's work in numbers, and pairs that may be one person."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.records import queries
from fieldkit.records.scores import NEWS2_BANDS, NOT_FOR_CHILDREN, SINGLE_THREE
from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User
from fieldkit.store.session import add_user, change_role, create_clinic, unlock

SUPERVISOR = User("sup1", "amina", "supervisor")
WELL = {"temperature_c": 37, "pulse": 70, "resp_rate": 16, "systolic_bp": 120, "spo2": 98, "avpu": "A"}
SICK = {"temperature_c": 39.2, "pulse": 118, "resp_rate": 24, "systolic_bp": 98, "spo2": 93}  # NEWS2 10
ONE_THREE = WELL | {"resp_rate": 8}  # total 3 from one reading: low-medium
ADULT = {"given_name": "Omar", "family_name": "Haddad", "sex": "male", "birth_date": "1970-05-05"}
CHILD = {"given_name": "Lina", "family_name": "Haddad", "sex": "female",
         "birth_date": f"{date.today().year - 3}-01-01"}


def summary(store, day):
    return store.read(lambda conn: queries.day_summary(conn, day.isoformat()))


def test_bands_shown_are_every_band_news2_gives():
    given = {band for _floor, band, _response in NEWS2_BANDS} | {SINGLE_THREE[0], NOT_FOR_CHILDREN[0], "incomplete"}
    assert set(queries.NEWS2_BANDS_SHOWN) == given


def test_day_summary_counts_patients_bands_referrals_and_follow_ups(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    today, yesterday = date.today(), date.today() - timedelta(days=1)
    omar = clinic.register(ADULT).patient_id
    lina = clinic.register(CHILD).patient_id
    omar_again = clinic.register(ADULT | {"phone": "0944000111"}, reason="test").patient_id
    clinic.record_encounter({"patient_id": omar, "vitals": SICK,
                             "referral": {"to_facility": "Aleppo University Hospital", "urgency": "emergency"}})
    clinic.record_encounter({"patient_id": omar, "vitals": WELL, "follow_up": {"due": today.isoformat()}})
    clinic.record_encounter({"patient_id": omar_again, "vitals": ONE_THREE,
                             "follow_up": {"due": yesterday.isoformat()}})
    clinic.record_encounter({"patient_id": lina, "vitals": WELL})
    clinic.record_encounter({"patient_id": lina})
    mistake = clinic.record_encounter({"patient_id": lina, "vitals": SICK}).encounter_id
    clinic.entered_in_error(mistake, "wrong patient")
    clinic.merge(omar_again, omar)

    found = summary(store, today)
    assert found["patients"] == 2  # Omar's two registrations are one person once merged
    assert found["encounters"] == 5  # the one entered in error is not counted
    assert found["bands"] == {"low": 1, "low-medium": 1, "medium": 0, "high": 1, "incomplete": 0, "under 16": 2}
    assert sum(found["hours"]) == 5 and len(found["hours"]) == 24
    assert found["referrals"] == {"emergency": 1}
    assert found["followups_due"] == {"open": 1} and found["overdue"] == 1

    before = summary(store, yesterday)
    assert (before["patients"], before["encounters"], before["referrals"], before["overdue"]) == (0, 0, {}, 0)
    assert before["followups_due"] == {"open": 1}


def test_registrations_warned_as_duplicates_are_pairs_until_merged(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    first = clinic.register(ADULT | {"phone": "0944000111"}).patient_id
    clinic.register({"given_name": "Someone", "family_name": "Else", "birth_date": "1950-01-01"})
    second = clinic.register(ADULT | {"given_name": "Omer", "phone": "0944000111"}, reason="says he is new").patient_id

    pairs = store.read(lambda conn: queries.flagged_duplicates(conn))
    assert pairs == [{"first": first, "second": second, "reason": "says he is new"}]
    clinic.merge(second, first)
    assert store.read(lambda conn: queries.flagged_duplicates(conn)) == []
    clinic.unmerge(second)
    assert len(store.read(lambda conn: queries.flagged_duplicates(conn))) == 1


@pytest.fixture
def laptop(tmp_path):
    home = Home(tmp_path / "clinic")
    store, amina = create_clinic(home, supervisor="amina", passphrase="amina's passphrase", device_id="a" * 32,
                                 device_key=bytes(32))
    yield home, store, amina
    store.close()


def test_role_change_is_kept_and_journalled_and_the_last_supervisor_stays(laptop):
    home, store, amina = laptop
    add_user(home, store, by="amina", by_passphrase="amina's passphrase", name="hoa", role="clerk",
             passphrase="hoa's passphrase")
    with pytest.raises(FieldkitError, match="last supervisor"):
        change_role(home, store, by=amina, name="amina", role="clinician")
    with pytest.raises(FieldkitError, match="role must be one of"):
        change_role(home, store, by=amina, name="hoa", role="boss")
    with pytest.raises(FieldkitError, match="may not manage users"):
        change_role(home, store, by=Keystore(home.keystore).user("hoa"), name="hoa", role="supervisor")
    assert Keystore(home.keystore).user("amina").role == "supervisor"

    change_role(home, store, by=amina, name="hoa", role="supervisor")
    change_role(home, store, by=amina, name="amina", role="clinician")  # another supervisor now exists
    roles = dict(store.read(lambda conn: conn.execute("SELECT name, role FROM users").fetchall()))
    assert roles == {"amina": "clinician", "hoa": "supervisor"}
    assert {u.name: u.role for u in Keystore(home.keystore).users()} == roles
    store.close()
    assert unlock(home, "hoa", "hoa's passphrase")[1].role == "supervisor"
