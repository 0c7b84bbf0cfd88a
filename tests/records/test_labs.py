"""Lab results on a real store (reference/clinical.md D): the checked test table, values kept as
reported, units never converted, corrections that keep the old value, a positive HBsAg's
follow-up, and screening rounds that count people."""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.errors import FieldkitError
from fieldkit.permissions import NotAllowed
from fieldkit.records import lab_codes, labs, queries, screening, site
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.keystore import User

DOCTOR = User("doc", "Dr Rana", "clinician")
CLERK = User("clerk", "Omar", "clerk")
SUPERVISOR = User("sup", "Amina", "supervisor")
TODAY = date.today()
# clinical.md D's checked table: every code fieldkit ships, pinned.
PINNED = {"hbsag": "5196-1", "anti-hbs": "16935-9", "anti-hbs-qual": "22322-2", "anti-hbc": "16933-4",
          "anti-hcv": "16128-1", "hiv-combo": "56888-1", "hiv-rapid": "49580-4", "hba1c": "4548-4", "glucose": "2345-7",
          "hb": "718-7"}
ARABIC = str.maketrans("0123456789.", "٠١٢٣٤٥٦٧٨٩٫")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One clinic for the module: each test registers the patients it reads."""
    opened = Store(tmp_path_factory.mktemp("labs") / "clinic.db", os.urandom(32), device_id="07" + "d" * 30)
    yield opened
    opened.close()


def patient(store, name: str = "Rania") -> str:
    return Clinic(store, DOCTOR).register({"given_name": name, "birth_date": "1985-03-04", "sex": "female"}).patient_id


def record(store, pid: str, test: str, value, user: User = DOCTOR, **extra) -> str:
    return Clinic(store, user).run(labs.record, {"patient_id": pid, "test": test, "value": value, **extra})


def test_the_table_pins_each_loinc_code_and_every_code_passes_its_check_digit():
    table = lab_codes.tests()
    assert {code: t.loinc for code, t in table.items()} == PINNED
    anti_hbs = table["anti-hbs"]  # public code calls 16935-9 "HCV Ab" or "anti-HBc": it is anti-HBs, quantitative
    assert anti_hbs.display == "Hepatitis B virus surface Ab [Units/volume] in Serum"
    assert anti_hbs.kind == "quantity" and anti_hbs.units[0] == "m[IU]/mL"
    assert table["glucose"].loinc_for("mmol/L") == "14749-6" and table["glucose"].loinc_for("mg/dL") == "2345-7"
    every = [t.loinc for t in table.values()] + [code for t in table.values() for code in t.unit_loinc.values()]
    assert all(lab_codes.check_digit(code) for code in every)
    assert not lab_codes.check_digit("16935-8") and not lab_codes.check_digit("5196")
    assert table["hbsag"].answers == {"positive": "LA6576-8", "negative": "LA6577-6", "indeterminate": ""}


def test_a_sites_own_test_is_added_and_a_wrong_check_digit_is_refused(tmp_path):
    (tmp_path / "lab_tests.toml").write_text(
        'version = 1\n[[test]]\ncode = "wbc"\nname = "WBC"\nloinc = "6690-2"\n'
        'display = "Leukocytes [#/volume] in Blood by Automated count"\nkind = "quantity"\nunits = ["10*3/uL"]\n',
        encoding="utf-8")
    try:
        site.use(tmp_path)
        assert lab_codes.test("WBC").units == ("10*3/uL",) and "hbsag" in lab_codes.tests()
        (tmp_path / "lab_tests.toml").write_text((tmp_path / "lab_tests.toml").read_text().replace("6690-2", "6690-3"))
        site.use(tmp_path)
        with pytest.raises(FieldkitError, match="check digit"):
            lab_codes.tests()
    finally:
        site.use(None)


@given(st.decimals(min_value=-10_000, max_value=10_000, places=3, allow_nan=False))
def test_a_quantity_is_kept_as_the_decimal_text_reported_in_any_digits(number):
    text = str(number)
    assert lab_codes.decimal_text(text) == text
    assert lab_codes.decimal_text(text.translate(ARABIC)) == text
    assert Decimal(lab_codes.decimal_text(text)) == number


def test_values_stay_as_reported_and_read_against_the_range(store):
    pid = patient(store)
    low = record(store, pid, "anti-hbs", "4.50", unit="mIU/mL", collected=TODAY - timedelta(days=3))
    high = record(store, pid, "hba1c", "٧٫٢٠", unit="%")
    positive = record(store, pid, "hiv-combo", "Positive", flag="")
    found = {r["id"]: r for r in store.read(lambda db: labs.results_of(db, pid))}
    assert (found[low]["value"], found[low]["unit"], found[low]["loinc"]) == ("4.50", "m[IU]/mL", "16935-9")
    assert (found[low]["interpretation"], found[low]["range_low"], found[low]["range_high"]) == ("L", "10", None)
    assert (found[high]["value"], found[high]["interpretation"]) == ("7.20", "H")
    assert (found[positive]["coded"], found[positive]["interpretation"], found[positive]["value"]) == ("positive", "POS", None)
    lab_flag = record(store, pid, "glucose", "110", unit="mg/dL", flag="N", range="70-140")
    assert store.read(lambda db: labs.result(db, lab_flag))["interpretation"] == "N"  # the lab's flag wins


def test_a_unit_is_accepted_only_as_ucum_spells_it_or_through_the_alias_list(store):
    pid = patient(store)
    before = store.version_vector()
    for unit, problem in (("mg/dL", "is not a unit of Anti-HBs"), ("M[IU]/ML", "is not a unit of Anti-HBs"),
                          ("", "needs its unit")):
        with pytest.raises(FieldkitError, match=problem):
            record(store, pid, "anti-hbs", "12", unit=unit)
    with pytest.raises(FieldkitError, match="takes no unit"):
        record(store, pid, "hbsag", "negative", unit="mIU/mL")
    assert store.version_vector() == before
    glucose = record(store, pid, "glucose", "5.4", unit="mmol/l")
    saved = store.read(lambda db: labs.result(db, glucose))
    assert (saved["value"], saved["unit"], saved["loinc"]) == ("5.4", "mmol/L", "14749-6")  # spelling only, never converted


def test_a_limit_is_kept_as_a_limit_and_read_only_where_it_says_which_side_it_is(store):
    """"<10" is not 10: stored with its comparator (FHIR's Quantity.comparator), interpreted low
    against a range starting at 10, and left uninterpreted where the limit could be either side."""
    pid = patient(store)
    found = {}
    for typed in ("<10", "≥ 1000", "<٥٠", "12"):
        rid = record(store, pid, "anti-hbs", typed, unit="m[IU]/mL")
        saved = store.read(lambda db, rid=rid: labs.result(db, rid))
        found[typed] = (saved.get("comparator") or "", saved["value"], saved["interpretation"] or "")
    assert found == {"<10": ("<", "10", "L"), "≥ 1000": (">=", "1000", "N"), "<٥٠": ("<", "50", ""),
                     "12": ("", "12", "N")}
    with pytest.raises(FieldkitError, match="is not a number"):
        record(store, pid, "anti-hbs", "<<10", unit="m[IU]/mL")


def test_dates_in_the_future_or_out_of_order_are_refused_and_nothing_is_saved(store):
    pid = patient(store)
    before = store.version_vector()
    with pytest.raises(FieldkitError, match="in the future"):
        record(store, pid, "hb", "13.1", unit="g/dL", collected=TODAY + timedelta(days=1))
    with pytest.raises(FieldkitError, match="issued on or after"):
        record(store, pid, "hb", "13.1", unit="g/dL", collected=TODAY, issued=TODAY - timedelta(days=1))
    with pytest.raises(FieldkitError, match="not a result of HBsAg"):
        record(store, pid, "hbsag", "maybe")
    with pytest.raises(FieldkitError, match="no lab test"):
        record(store, pid, "cholesterol", "5")
    with pytest.raises(NotAllowed):
        record(store, pid, "hb", "13.1", user=CLERK, unit="g/dL")
    assert store.version_vector() == before


def test_a_correction_keeps_the_value_it_replaces_and_statuses_move_by_the_table(store):
    pid = patient(store)
    result_id = record(store, pid, "anti-hbs", "8", unit="m[IU]/mL", sample_id="S-100")
    with pytest.raises(FieldkitError, match="already has a Anti-HBs result"):
        record(store, pid, "anti-hbs", "9", unit="m[IU]/mL", sample_id="S-100")
    clinic = Clinic(store, DOCTOR)
    with pytest.raises(FieldkitError, match="a reason"):
        clinic.run(labs.correct, result_id, "18", reason=" ")
    with pytest.raises(FieldkitError, match="nothing to correct"):
        clinic.run(labs.correct, result_id, "8", reason="typo")
    clinic.run(labs.correct, result_id, "18", reason="transcription error: 18 on the lab's sheet")
    now = store.read(lambda db: labs.result(db, result_id))
    assert (now["value"], now["status"], now["interpretation"]) == ("18", "corrected", "N")
    steps = store.read(lambda db: labs.history(db, result_id))
    assert [(s["value"], s["status"]) for s in steps] == [("8", "final"), ("18", "corrected")]
    assert steps[1]["note"].startswith("transcription error") and steps[0]["author"] == DOCTOR.id
    assert steps[1]["unit"] == "m[IU]/mL" and steps[1]["changed"] == ["interpretation", "note", "status", "value"]
    clinic.run(labs.entered_in_error, result_id, "another patient's sample")
    assert store.read(lambda db: labs.result(db, result_id))["status"] == "entered-in-error"
    assert result_id in [r["id"] for r in store.read(lambda db: labs.results_of(db, pid))]  # stays, marked
    with pytest.raises(FieldkitError, match="cannot become corrected"):
        clinic.run(labs.correct, result_id, "20", reason="again")
    other = record(store, pid, "hb", "11.9", unit="g/dL")
    clinic.run(labs.cancel, other, "haemolysed sample")
    assert store.read(lambda db: labs.result(db, other))["status"] == "cancelled"


def test_a_positive_hbsag_raises_one_follow_up_when_final(store):
    pid = patient(store, "Yara")

    def tasks() -> list[dict]:
        return [t for t in store.read(lambda db: queries.due_followups(db, TODAY.isoformat(), limit=500))
                if t["patient_id"] == pid]

    record(store, pid, "hbsag", "positive", status="preliminary", collected=TODAY)
    assert tasks() == []  # not final yet
    record(store, pid, "hbsag", "negative", sample_id="S-2")
    assert tasks() == []
    final = record(store, pid, "hbsag", "Positive", sample_id="S-3")
    [task] = tasks()
    assert task["reason"].startswith("HBsAg positive") and task["due"] == TODAY.isoformat()
    Clinic(store, DOCTOR).run(labs.correct, final, "indeterminate", reason="repeat")
    Clinic(store, DOCTOR).run(labs.correct, final, "positive", reason="confirmed by neutralisation")
    assert len(tasks()) == 2  # negative then positive again: a new finding, a new task
    record(store, pid, "anti-hcv", "positive")  # anti-HCV is not followed up by the shipped table
    assert len(tasks()) == 2


def test_a_sites_follow_up_rule_raises_one_task_however_often_the_result_is_corrected(store, tmp_path):
    shipped = lab_codes.tests()["hba1c"]
    (tmp_path / "lab_tests.toml").write_text(
        f'version = 1\n[[test]]\ncode = "hba1c"\nname = "HbA1c"\nloinc = "{shipped.loinc}"\ndisplay = "{shipped.display}"\n'
        'kind = "quantity"\nunits = ["%"]\nrange = { "%" = { high = "5.6" } }\nfollow_up = ["H"]\n', encoding="utf-8")
    pid = patient(store, "Sami")
    try:
        site.use(tmp_path)
        result_id = record(store, pid, "hba1c", "7.2", unit="%")
        Clinic(store, DOCTOR).run(labs.correct, result_id, "7.9", reason="re-run")  # still high: the same finding
        record(store, pid, "hba1c", "5.1", unit="%")
    finally:
        site.use(None)
    reasons = [t["reason"] for t in store.read(lambda db: queries.due_followups(db, TODAY.isoformat(), limit=500))
               if t["patient_id"] == pid]
    assert len(reasons) == 1 and reasons[0].startswith("HbA1c high")


def test_a_round_counts_people_per_test_and_leaves_out_results_in_error(store):
    with pytest.raises(NotAllowed):
        Clinic(store, DOCTOR).run(screening.create_round, {"name": "Staff 2027", "starts": TODAY, "tests": ["hbsag"]})
    with pytest.raises(FieldkitError, match="no lab test"):
        Clinic(store, SUPERVISOR).run(screening.create_round, {"name": "x", "starts": TODAY, "tests": ["nope"]})
    round_id = Clinic(store, SUPERVISOR).run(screening.create_round, {
        "name": "Homs staff spring", "programme": "staff-screening", "starts": TODAY - timedelta(days=30),
        "ends": TODAY + timedelta(days=30), "tests": ["hbsag", "anti-hcv", "hiv-combo"],
        "population": "Homs directorate health staff"})
    with pytest.raises(FieldkitError, match="named"):
        Clinic(store, SUPERVISOR).run(screening.create_round, {"name": "HOMS staff spring", "starts": TODAY,
                                                               "tests": ["hbsag"]})
    a, b, c = patient(store, "Lina"), patient(store, "Hadi"), patient(store, "Nour")
    record(store, a, "hbsag", "positive", round_id=round_id)
    record(store, a, "hbsag", "positive", round_id="Homs staff spring")  # a repeat: still one person
    record(store, b, "hbsag", "negative", round_id=round_id)
    record(store, b, "anti-hcv", "negative", round_id=round_id)
    wrong = record(store, c, "hbsag", "positive", round_id=round_id)
    Clinic(store, DOCTOR).run(labs.entered_in_error, wrong, "sample swapped")
    summary = store.read(lambda db: screening.round_summary(db, round_id))
    assert (summary["tested"], summary["results"]) == (2, 4)
    assert summary["tests"]["hbsag"] | {"name": "HBsAg"} == {"name": "HBsAg", "tested": 2, "positive": 1, "negative": 1,
                                                               "indeterminate": 0, "high": 0, "low": 0}
    assert summary["tests"]["anti-hcv"]["tested"] == 1 and summary["tests"]["hiv-combo"]["tested"] == 0
    assert [r["name"] for r in store.read(screening.rounds)][:1] == ["Homs staff spring"]
