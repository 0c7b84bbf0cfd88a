"""Importing a lab's file on a real store (reference/clinical.md D, acceptance tests 1-6): the
4,000-row Homs file dry-run then committed and re-imported for nothing, an error list that counts
rows, quarantine instead of invented patients, units never converted, headers and digits as labs
write them, and spreadsheets read."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from datetime import date, timedelta

import pytest
import xlsxwriter

from fieldkit.errors import FieldkitError
from fieldkit.permissions import NotAllowed
from fieldkit.records import lab_import, lab_quarantine, labs, screening, services
from fieldkit.records.models import Patient
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.keystore import User

DOCTOR = User("doc", "Dr Rana", "clinician")
CLERK = User("clerk", "Omar", "clerk")
SUPERVISOR = User("sup", "Amina", "supervisor")
TODAY = date.today()
COLLECTED = TODAY - timedelta(days=10)
HEADER = ["Sample ID", "Staff ID", "Date of birth", "Name", "Test", "Result", "Unit", "Flag", "Collected", "Reported",
          "Reference range"]
GIVEN = ["Ahmad", "Mohammad", "Fatima", "Rana", "Khaled", "Layla", "Omar", "Huda", "Samer", "Nour", "Yousef", "Maya"]
FAMILY = ["Al-Hassan", "Haddad", "Khoury", "Darwish", "Nasser", "Saleh", "Mansour", "Aziz"]


def staff_members(count: int) -> list[dict]:
    return [{"given_name": GIVEN[i % len(GIVEN)], "family_name": f"{FAMILY[i % len(FAMILY)]}", "sex": "unknown",
             "other_names": f"N{i}", "birth_date": (date(1965, 1, 1) + timedelta(days=7 * i)).isoformat(),
             "identifiers": {"staff": f"HMS-{i:05d}", "national": f"0{i:09d}"}} for i in range(count)]


def register_staff(store, people: list[dict]) -> list[str]:
    """The directorate's staff registered at once, through the service layer, in one transaction."""
    changes = [services.registration(Patient.model_validate(p)) for p in people]
    store.write(lambda tx: tx.append(changes, user=SUPERVISOR.id))
    return [c.entity_id for c in changes]


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def row(person: dict, sample: str, test: str, result: str, unit: str = "", **extra) -> dict:
    return {"Sample ID": sample, "Staff ID": person["identifiers"]["staff"],
            "Date of birth": day(date.fromisoformat(person["birth_date"])),
            "Name": f"{person['given_name']} {person['other_names']} {person['family_name']}", "Test": test,
            "Result": result, "Unit": unit, "Collected": day(COLLECTED), **extra}


def write_csv(path, rows: list[dict], header: list[str] = HEADER, *, encoding: str = "utf-8", delimiter: str = ","):
    out = io.StringIO()
    writer = csv.DictWriter(out, header, delimiter=delimiter, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding=encoding, newline="")
    return path


def check(store, path, template: str = "homs-phl", **kw) -> lab_import.ImportPlan:
    return store.read(lambda db: lab_import.check(path, template, db, **kw))


def commit(store, plan, user: User = DOCTOR, **kw) -> lab_import.ImportResult:
    return store.write(lambda tx: lab_import.commit(tx, user, plan, **kw))


def count(store, table: str, where: str = "1") -> int:
    return store.read(lambda db: db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def codes(plan) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for problem in plan.problems:
        found.setdefault(problem.row, set()).add(problem.code)
    return found


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A small clinic shared by the small tests: eight staff; each test uses its own sample ids."""
    folder = tmp_path_factory.mktemp("lab-import")
    store = Store(folder / "clinic.db", os.urandom(32), device_id="08" + "d" * 30)
    people = staff_members(8)
    ids = register_staff(store, people)
    yield store, people, ids, folder
    store.close()


def test_the_4000_row_homs_file_dry_runs_commits_and_adds_nothing_when_imported_again(make_store, tmp_path):
    store = make_store()
    people = staff_members(1334)
    ids = register_staff(store, people)
    round_id = Clinic(store, SUPERVISOR).run(screening.create_round, {
        "name": "Homs staff 2026", "starts": COLLECTED - timedelta(days=5), "tests": ["hbsag", "anti-hcv", "anti-hbs"]})
    rows = []
    for i, person in enumerate(people):
        rows += [row(person, f"S{i:05d}", "HBs Ag", "Reactive" if i % 97 == 0 else "Non-reactive"),
                 row(person, f"S{i:05d}", "Anti-HCV", "Non-reactive"),
                 row(person, f"S{i:05d}", "Anti-HBs", f"{(i % 400) / 4:.2f}", "mIU/mL", **{"Reference range": ">10"})]
    rows = rows[:4000]
    rows[10]["Test"] = "HBeAg"  # row 12: not a test of the table
    rows[20]["Unit"] = "mg/dL"  # row 22: anti-HBs in a unit it is never reported in
    rows[29]["Collected"] = day(TODAY + timedelta(days=3))  # row 31: collected in the future
    rows[32].update({"Collected": day(TODAY + timedelta(days=3)), "Unit": "IU"})  # row 34: two errors, one row
    rows[40]["Staff ID"] = "HMS-77777"  # row 42: nobody
    rows[50]["Date of birth"] = "01/01/1901"  # row 52: the staff id's patient was born another day
    path = write_csv(tmp_path / "homs-round.csv", rows)
    patients_before = count(store, "patients")

    started = time.perf_counter()
    seen: list[tuple[int, int]] = []
    plan = check(store, path, round_id="Homs staff 2026", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4000, 4000)
    assert plan.counts == {"rows": 4000, "ok": 3994, "errors": 4, "quarantined": 2, "already": 0, "new_results": 3994,
                           "corrections": 0, "finalised": 0}
    found = codes(plan)
    assert found[12] == {"E_UNKNOWN_TEST"} and found[22] == {"E_UNIT"} and found[31] == {"E_DATE"}
    assert found[34] == {"E_UNIT", "E_DATE"} and found[42] == {"E_NO_MATCH"} and found[52] == {"E_MISMATCH"}
    done = commit(store, plan, progress=lambda done, total: seen.append((done, total)))
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"dry run and commit took {elapsed:.1f} s"  # clinical.md D, test 1 (bench/lab_import.py: the figure)
    assert seen[-1][0] == seen[-1][1]
    positives = sum(1 for r in rows[:4000] if r["Result"] == "Reactive")
    assert (done.created, done.quarantined, done.follow_ups) == (3994, 2, positives)
    assert count(store, "lab_results", f"round_id = '{round_id}' AND import_id = '{done.import_id}'") == 3994
    assert count(store, "patients") == patients_before  # nothing invented
    assert count(store, "lab_imports", "status = 'committed'") == 1
    summary = store.read(lambda db: screening.round_summary(db, round_id))
    assert summary["tests"]["hbsag"]["positive"] == positives and summary["tested"] == 1334
    held = store.read(lambda db: labs.results_of(db, ids[3]))
    anti_hbs = next(r for r in held if r["test"] == "anti-hbs")
    assert (anti_hbs["value"], anti_hbs["unit"], anti_hbs["range_low"], anti_hbs["import_row"]) == ("0.75", "m[IU]/mL", "10", 13)

    before = store.version_vector()
    again = check(store, path)
    assert again.imported_as and again.counts["already"] == 3996 and again.counts["new_results"] == 0
    with pytest.raises(FieldkitError, match="imported on"):
        commit(store, again)
    assert store.version_vector() == before

    # The lab sends the round again in another file: one value changed, one test added.
    rows[0]["Result"], rows[1]["Result"] = "Reactive", "Reactive"  # row 2 was reactive already; row 3 changes
    extra = row(people[2], "S00002", "HIV Ag/Ab", "Non-reactive")
    resent = check(store, write_csv(tmp_path / "homs-round-resent.csv", [*rows, extra]))
    assert resent.counts == {"rows": 4001, "ok": 2, "errors": 4, "quarantined": 0, "already": 3995, "new_results": 1,
                             "corrections": 1, "finalised": 0}  # the unmatched rows wait in quarantine once
    assert {p.code for p in resent.problems if p.row == 3} == {"W_CORRECTS"}
    done = commit(store, resent)
    assert (done.created, done.corrected, done.quarantined) == (1, 1, 0)
    [changed] = [r for r in store.read(lambda db: labs.results_of(db, ids[0])) if r["test"] == "anti-hcv"]
    assert (changed["coded"], changed["status"]) == ("positive", "corrected")
    assert [s["coded"] for s in store.read(lambda db: labs.history(db, changed["id"]))] == ["negative", "positive"]


def test_the_error_list_names_row_column_code_and_message_and_the_summary_counts_rows(clinic, tmp_path):
    store, people, _ids, _folder = clinic
    path = write_csv(tmp_path / "errors.csv", [
        row(people[0], "E-1", "HBsAg", "Non-reactive"),
        row(people[1], "E-2", "Anti-HBs", "12,5x", "mg/dL", Collected="31/02/2026"),  # two problems, one row
        row(people[2], "E-3", "HBsAg", "Reactive"),
        row(people[2], "E-3", "HBsAg", "Non-reactive"),  # the same sample's test again, and not the same
    ])
    plan = check(store, path)
    assert plan.counts == {"rows": 4, "ok": 1, "errors": 3, "quarantined": 0, "already": 0, "new_results": 1,
                           "corrections": 0, "finalised": 0}
    out = tmp_path / "errors-out.csv"
    out.write_text(lab_import.errors_csv(plan), encoding="utf-8")
    listed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["column"], r["code"], r["value"]) for r in listed if r["row"] == "3"] == [
        ("Collected", "E_DATE", "31/02/2026"), ("Unit", "E_UNIT", "mg/dL")]
    assert {r["code"] for r in listed if r["row"] in ("4", "5")} == {"E_DUPLICATE"}
    assert all(r["message"] for r in listed) and list(listed[0]) == ["row", "column", "code", "message", "value"]
    done = commit(store, plan)
    assert done.created == 1  # a row with an error is written nowhere


def test_a_name_that_matches_while_the_staff_id_points_elsewhere_is_quarantined_never_a_new_patient(clinic, tmp_path):
    store, people, ids, _folder = clinic
    fatima, omar = people[2], people[6]
    wrong_id = row(fatima, "Q-1", "HBsAg", "Reactive") | {"Staff ID": omar["identifiers"]["staff"]}
    nobody = row(fatima, "Q-2", "HBsAg", "Reactive") | {"Staff ID": "HMS-55555", "Name": "Hiba Qassem"}
    no_birth = row(omar, "Q-3", "Anti-HCV", "Non-reactive") | {"Date of birth": ""}
    other_script = row(omar, "Q-4", "Anti-HCV", "Non-reactive") | {"Name": "عمر منصور"}  # "Omar Mansour" in Arabic
    her_name = row(omar, "Q-5", "HBsAg", "Reactive") | {"Name": "Fatima Khoury"}  # his id and birth date, her name
    patients = count(store, "patients")
    plan = check(store, write_csv(tmp_path / "quarantine.csv", [wrong_id, nobody, no_birth, other_script, her_name]))
    assert codes(plan) == {2: {"E_MISMATCH"}, 3: {"E_NO_MATCH"}, 4: {"E_NO_MATCH"}, 6: {"E_MISMATCH"}}
    assert plan.problems[-1].column == "Name" and "Omar" in plan.problems[-1].message
    assert plan.counts["quarantined"] == 4 and plan.counts["ok"] == 1
    done = commit(store, plan)
    assert count(store, "patients") == patients and done.quarantined == 4
    waiting = store.read(lambda db: lab_quarantine.quarantined(db, import_id=done.import_id))
    assert [w["import_row"] for w in waiting] == [2, 3, 4, 6]
    assert waiting[0]["data"]["cells"]["Name"].startswith("Fatima") and "born on" in waiting[0]["problem"]
    clinic_ = Clinic(store, DOCTOR)
    [written] = clinic_.run(lab_quarantine.match_row, waiting[0]["id"], ids[2])
    assert store.read(lambda db: labs.result(db, written))["patient_id"] == ids[2]
    assert any("HBsAg positive" in t["reason"] for t in store.read(
        lambda db: [dict(zip(("reason", "patient_id"), r)) for r in db.execute("SELECT reason, patient_id FROM followups")])
        if t["patient_id"] == ids[2])
    with pytest.raises(FieldkitError, match="matched already"):
        clinic_.run(lab_quarantine.match_row, waiting[0]["id"], ids[2])
    with pytest.raises(FieldkitError, match="say why"):
        clinic_.run(lab_quarantine.discard_row, waiting[1]["id"], "")
    clinic_.run(lab_quarantine.discard_row, waiting[1]["id"], "not one of our staff")
    assert [w["import_row"] for w in store.read(lambda db: lab_quarantine.quarantined(db, import_id=done.import_id))] == [4, 6]


def test_an_unexpected_unit_is_an_error_and_an_aliased_spelling_is_kept_unconverted(clinic, tmp_path):
    store, people, ids, _folder = clinic
    plan = check(store, write_csv(tmp_path / "units.csv", [
        row(people[3], "U-1", "Anti-HBs", "120", "IU/mL"),
        row(people[3], "U-2", "Glucose", "5.50", "mmol/l"),
        row(people[3], "U-3", "Glucose", "99", ""),
    ]))
    problems = {p.row: p for p in plan.problems}
    assert problems[2].code == "E_UNIT" and "never converted" in problems[2].message and problems[2].column == "Unit"
    assert problems[4].code == "E_UNIT" and "needs its unit" in problems[4].message
    commit(store, plan)
    [glucose] = [r for r in store.read(lambda db: labs.results_of(db, ids[3])) if r["sample_id"] == "U-2"]
    assert (glucose["value"], glucose["unit"], glucose["loinc"]) == ("5.50", "mmol/L", "14749-6")


def test_headers_in_any_case_and_spacing_a_bom_utf16_and_arabic_digits_are_read(clinic, tmp_path):
    store, people, ids, _folder = clinic
    person = people[4]
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    header = ["SAMPLE_ID", " staff  id ", "date_of_birth", "NAME", "test", "RESULT ", "unit", "collected"]
    cells = ["H-1", person["identifiers"]["staff"].translate(arabic),
             day(date.fromisoformat(person["birth_date"])).translate(arabic), "Khaled Nasser", "anti-hbs", "٤٫٥",
             "mIU/mL", day(COLLECTED)]
    lines = [header, cells, ["H-2", *cells[1:]]]
    utf8 = tmp_path / "odd.csv"  # Excel's "CSV UTF-8": a byte-order mark before the first header
    utf8.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(",".join(line) for line in lines[:2]).encode())
    plan = check(store, utf8)
    assert plan.file_problems == [] and codes(plan) == {}, plan.problems
    assert plan.rows[0].results[0]["value"] == "4.5"
    utf16 = tmp_path / "odd16.txt"  # Excel's "Unicode text": UTF-16 with a BOM, tab-separated
    utf16.write_text("\r\n".join("\t".join(line) for line in (lines[0], lines[2])), encoding="utf-16")
    plan16 = check(store, utf16)
    assert codes(plan16) == {} and plan16.rows[0].results[0]["sample_id"] == "H-2"
    commit(store, plan)
    assert [r["value"] for r in store.read(lambda db: labs.results_of(db, ids[4])) if r["sample_id"] == "H-1"] == ["4.5"]
    missing = check(store, write_csv(tmp_path / "bare.csv", [{"Result": "1"}], ["Result", "Collected"]))
    assert {p.code for p in missing.file_problems} == {"E_COLUMN"} and "does not fit" in missing.refusal
    with pytest.raises(FieldkitError, match="does not fit"):
        commit(store, missing)


def test_a_wide_xlsx_sheet_is_read_with_its_dates_and_numbers(clinic, tmp_path):
    store, people, ids, _folder = clinic
    path = tmp_path / "panel.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Round")
    dated = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, ["Sample", "Staff No", "DOB", "Full name", "Date", "HBsAg", "HCV", "HIV", "Anti-HBs (mIU/mL)"])
    for line, person in enumerate(people[5:7], 1):
        sheet.write_string(line, 0, f"X-{line}")
        sheet.write_string(line, 1, person["identifiers"]["staff"])
        sheet.write_datetime(line, 2, dt.datetime.fromisoformat(person["birth_date"]), dated)
        sheet.write_string(line, 3, f"{person['given_name']} {person['family_name']}")
        sheet.write_datetime(line, 4, dt.datetime.combine(COLLECTED, dt.time()), dated)
        sheet.write_row(line, 5, ["Non-reactive", "Non-reactive", "" if line == 2 else "Reactive"])
        sheet.write_number(line, 8, 12.5 if line == 1 else 250)
    book.close()
    plan = check(store, path, "homs-staff-panel")
    assert codes(plan) == {} and plan.counts["new_results"] == 7  # the blank HIV cell is a test not done
    done = commit(store, plan)
    held = {r["test"]: r for r in store.read(lambda db: labs.results_of(db, ids[5])) if r["import_id"] == done.import_id}
    assert held["anti-hbs"]["value"] == "12.5" and held["anti-hbs"]["unit"] == "m[IU]/mL"
    assert held["hiv-combo"]["coded"] == "positive" and held["hbsag"]["collected"] == COLLECTED.isoformat()


def test_only_clinical_staff_import_and_a_clerk_changes_nothing(clinic, tmp_path):
    store, people, _ids, _folder = clinic
    plan = check(store, write_csv(tmp_path / "clerk.csv", [row(people[7], "C-1", "HBsAg", "Non-reactive")]))
    before = store.version_vector()
    with pytest.raises(NotAllowed):
        commit(store, plan, CLERK)
    assert store.version_vector() == before
    with pytest.raises(FieldkitError, match="no lab template"):
        check(store, tmp_path / "clerk.csv", "nope")
