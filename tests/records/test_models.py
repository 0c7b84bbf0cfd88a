"""Validation at the boundary: impossible values refused by name and range, numbers and text
typed in any of the clinic's scripts stored in one canonical form."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fieldkit.records.models import MEASURES, Encounter, Patient, Vitals, describe_error
from fieldkit.text import BIDI_CONTROLS


def refusal(model, data) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    message = describe_error(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_impossible_vitals_are_refused_naming_field_and_range(name):
    low, high = MEASURES[name].possible
    for value in (low - 1 if low >= 1 else low / 2, high + 1):
        message = refusal(Vitals, {name: value})
        assert message.startswith(f"{MEASURES[name].label}:") and f"{low:g}" in message and f"{high:g}" in message
        assert MEASURES[name].unit in message
    assert getattr(Vitals.model_validate({name: low}), name) == low
    assert getattr(Vitals.model_validate({name: high}), name) == high


def test_encounter_error_names_the_nested_field_as_staff_call_it():
    message = refusal(Encounter, {"patient_id": "p", "vitals": {"temperature_c": 52}})
    assert message == "Temperature: 52.0 °C is not possible (allowed 25–45 °C)"
    message = refusal(Encounter, {"patient_id": "p", "diagnoses": [{"text": "fever"}, {"code": "zz"}],
                                  "prescriptions": [{"drug": ""}], "follow_up": {"due": "soon"}})
    assert message.startswith("Diagnosis 2, ICD-10 code: “zz” is not an ICD-10 code")
    assert "Prescription 1, Drug: is required" in message and "Follow-up date: “soon” is not a date" in message


def test_problems_keep_the_path_for_the_screen_and_never_pass_on_pydantic_english():
    from fieldkit.records.problems import problems

    with pytest.raises(ValidationError) as caught:
        Encounter.model_validate({"patient_id": "p", "kind": "ward", "vitals": {"pulse": "fast"},
                                  "prescriptions": [{"drug": "x", "duration_days": 999}], "notes": "x" * 6000})
    found = problems(caught.value)
    assert [p.where for p in found] == [("kind",), ("vitals", "pulse"), ("prescriptions", 0, "duration_days"),
                                        ("notes",)]
    assert [p.text for p in found] == [
        "Encounter kind: “ward” is not one of: visit, teletriage, home, screening or vaccination",
        "Pulse: “fast” is not a number", "Prescription 1, Days: must be at most 365",
        "Notes: is too long (at most 5000 characters)"]
    assert not any("Input should" in p.text or "Value error" in p.text for p in found)


def test_refusals_speak_the_users_language(monkeypatch):
    from fieldkit import i18n

    i18n.set_language("ar")
    try:
        message = refusal(Patient, {"given_name": "ليلى", "birth_date": "31/12/90"})
        assert message.startswith("تاريخ الميلاد: «31/12/90»") and "٣١/١٢/١٩٩٠" in message
        message = refusal(Encounter, {"patient_id": "p", "vitals": {"temperature_c": "٥٢"}})
        assert message.startswith("الحرارة: ") and "25–45" in message
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("typed", ["39.2", "٣٩٫٢", "۳۹٫۲", "39,2", " 39.2 ", "٣٩.٢", 39.2])
def test_numbers_in_every_script_become_one_number(typed):
    assert Vitals.model_validate({"temperature_c": typed}).temperature_c == 39.2


@pytest.mark.parametrize("typed", ["", "abc", "3..9", "NaN", "inf", "--5", True])
def test_non_numbers_are_refused(typed):
    if typed == "":
        assert Vitals.model_validate({"pulse": typed}).pulse is None  # blank field: not measured
    else:
        assert refusal(Vitals, {"pulse": typed}).startswith("Pulse:")


def test_glucose_range_follows_its_unit_and_is_never_converted():
    assert Vitals.model_validate({"glucose": "٥٫٥", "glucose_unit": "mmol/L"}).glucose == 5.5
    assert "Blood glucose: 120.0 mmol/L is not possible" in refusal(Vitals, {"glucose": 120, "glucose_unit": "mmol/L"})
    assert Vitals.model_validate({"glucose": 120}).to_fields() == {"glucose": 120.0, "glucose_unit": "mg/dL",
                                                                  "on_oxygen": False}


def test_diastolic_must_be_below_systolic():
    assert "swapped" in refusal(Vitals, {"systolic_bp": 80, "diastolic_bp": 120})


def test_alarming_values_are_saved_with_a_warning():
    vitals = Vitals.model_validate({"temperature_c": 40.1, "spo2": 85, "pulse": 80, "muac_mm": 110})
    assert vitals.warnings() == ["Temperature 40.1 °C is very high", "SpO2 85 % is very low", "MUAC 110 mm is very low"]
    assert Vitals.model_validate({"pulse": 80}).warnings() == []


def test_avpu_is_one_of_acvpu():
    assert Vitals.model_validate({"avpu": "c"}).avpu == "C"
    assert "Consciousness" in refusal(Vitals, {"avpu": "X"})


def test_names_are_nfc_without_bidi_controls():
    decomposed = unicodedata.normalize("NFD", "Nguyễn")
    patient = Patient.model_validate({"given_name": f"\u202b{decomposed}\u202c", "family_name": "  Trần  Văn ",
                                      "identifiers": {"National": "\u200f٠٣٠١٠٠١٢٣٤٥"}})
    assert patient.given_name == "Nguyễn" and unicodedata.is_normalized("NFC", patient.given_name)
    assert patient.family_name == "Trần Văn"
    assert patient.identifiers == {"national": "03010012345"}


@given(st.text(alphabet=st.sampled_from("aàáạ ّمحمدیکدđ‌ـ" + "".join(BIDI_CONTROLS)), min_size=1))
def test_cleaned_names_are_normalised_and_free_of_controls(raw):
    try:
        patient = Patient.model_validate({"given_name": raw})
    except ValidationError:
        assert not any(ch.isalpha() for ch in raw)
        return
    assert not set(patient.given_name) & BIDI_CONTROLS
    assert unicodedata.is_normalized("NFC", patient.given_name)
    assert Patient.model_validate(patient.to_fields()) == patient  # cleaning is idempotent


def test_a_name_needs_a_letter():
    assert refusal(Patient, {"given_name": " "}).startswith("Given name:")
    assert refusal(Patient, {"given_name": "123"}).startswith("Given name: a name needs at least one letter")
    assert "Given name: is required" in refusal(Patient, {})


@pytest.mark.parametrize("typed, stored", [
    ("+963 944 123 456", "+963944123456"), ("0944-123-456", "0944123456"), ("00963944123456", "+963944123456"),
    ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "09123456789"), ("(028) 3829 1234", "02838291234"), ("", ""),
])
def test_phones_are_stored_as_digits(typed, stored):
    assert Patient.model_validate({"given_name": "Lan", "phone": typed}).phone == stored


def test_bad_phone_and_birth_date_are_refused():
    assert refusal(Patient, {"given_name": "Lan", "phone": "12"}).startswith("Phone: “12” is not a phone number")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert "is in the future" in refusal(Patient, {"given_name": "Lan", "birth_date": tomorrow})
    assert "not a possible birth date" in refusal(Patient, {"given_name": "Lan", "birth_date": "31/12/1899"})
    assert Patient.model_validate({"given_name": "Lan", "birth_date": "١٩٨٨-٠٣-٠٢"}).birth_date == date(1988, 3, 2)


@pytest.mark.parametrize("typed", ["31/12/1990", "31.12.1990", "31-12-1990", "1990-12-31", "٣١/١٢/١٩٩٠",
                                   "۳۱/۱۲/۱۹۹۰", " 31 / 12 / 1990 "])
def test_birth_dates_as_people_type_them(typed):
    assert Patient.model_validate({"given_name": "Lan", "birth_date": typed}).birth_date == date(1990, 12, 31)


def test_a_follow_up_in_the_past_is_kept_and_a_typed_one_is_read_day_first():
    from fieldkit.records.models import FollowUp

    assert FollowUp.model_validate({"due": "03/04/2027"}).due == date(2027, 4, 3)
    assert FollowUp.model_validate({"due": "01.02.2020"}).due == date(2020, 2, 1)  # the screen warns; never refused


def test_age_only_entry_gives_an_estimated_birth_date():
    today = date(2026, 11, 22)
    assert Patient.estimated_birth_date(34, today) == date(1992, 11, 22)
    assert Patient.estimated_birth_date(0.5, today) == today - timedelta(days=183)
    assert Patient.estimated_birth_date(30, date(2028, 2, 29)) == date(1998, 2, 28)
    with pytest.raises(ValueError, match="not possible"):
        Patient.estimated_birth_date(140, today)
    assert "estimated" in refusal(Patient, {"given_name": "Lan", "birth_date_estimated": True})


def test_journal_fields_leave_out_what_is_blank():
    patient = Patient.model_validate({"given_name": "Lan", "phone": "", "allergies": ["penicillin", " penicillin "],
                                      "identifiers": {}})
    assert patient.to_fields() == {"given_name": "Lan", "sex": "unknown", "allergies": ["penicillin"]}


def test_encounter_parts_validate_and_the_tasks_stay_out_of_its_payload():
    encounter = Encounter.model_validate({
        "patient_id": "p", "vitals": {"pulse": "٨٠"},
        "diagnoses": [{"code": "j18.9", "text": "pneumonia"}],
        "prescriptions": [{"drug": "amoxicillin", "dose": "500 mg", "duration_days": "٧"}],
        "referral": {"to_facility": "Idlib Central", "urgency": "urgent"},
        "follow_up": {"due": "٢٠٢٦-١٢-٠١"}})
    assert encounter.diagnoses[0].code == "J18.9" and encounter.prescriptions[0].duration_days == 7
    assert encounter.follow_up.due == date(2026, 12, 1)
    fields = encounter.to_fields()
    assert "referral" not in fields and "follow_up" not in fields and fields["vitals"] == {"pulse": 80.0,
                                                                                         "on_oxygen": False}
    assert "ICD-10" in refusal(Encounter, {"patient_id": "p", "diagnoses": [{"code": "pneumonia"}]})
    assert "code or a text" in refusal(Encounter, {"patient_id": "p", "diagnoses": [{}]})
    assert "Urgency" in refusal(Encounter, {"patient_id": "p", "referral": {"to_facility": "x", "urgency": "now"}})
    assert "is not a field" in refusal(Encounter, {"patient_id": "p", "unknown_field": 1})
