"""`fieldkit lab` and `fieldkit round` as a user runs them: real processes on a real data directory,
a lab's CSV file dry-run, imported, refused the second time; results listed, corrected and traced."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_cli import add, ok, run

HEADER = "Sample ID,Staff ID,Date of birth,Name,Test,Result,Unit,Collected\r\n"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    home = tmp_path_factory.mktemp("labs") / "clinic"
    ok(home, "init", "--supervisor", "amina")
    fatima = add(home, "--given", "Fatima", "--family", "Khoury", "--birth-date", "1980-05-02", "--id", "staff=HMS-00001")
    return home, fatima["id"]


def test_a_lab_file_is_checked_imported_once_and_its_unmatched_row_waits_in_quarantine(clinic, tmp_path):
    home, fatima = clinic
    round_id = ok(home, "round", "add", "Homs staff autumn", "--starts", "2026-01-01", "--test", "hbsag",
                  "--test", "anti-hbs").stdout.strip()
    lab_file = tmp_path / "round.csv"
    lab_file.write_text(HEADER + "S1,HMS-00001,02/05/1980,Fatima Khoury,HBsAg,Reactive,,01/02/2026\r\n"
                        "S1,HMS-00001,02/05/1980,Fatima Khoury,Anti-HBs,٨٫٥,mIU/mL,01/02/2026\r\n"
                        "S2,HMS-00002,02/05/1981,Hiba Qassem,HBsAg,Reactive,,01/02/2026\r\n"
                        "S3,HMS-00001,02/05/1980,Fatima Khoury,Anti-HBs,8.5,mg/dL,01/02/2026\r\n", encoding="utf-8")
    inside = run(home, "lab", "import", str(lab_file), "--template", "homs-phl", "--dry-run", "--errors",
                 str(home / "errors.csv"))
    assert inside.returncode == 1 and "never into the clinic's data folder" in inside.stderr
    assert not (home / "errors.csv").exists()
    dry = json.loads(ok(home, "lab", "import", str(lab_file), "--template", "homs-phl", "--round", "Homs staff autumn",
                        "--dry-run", "--errors", str(tmp_path / "errors.csv"), "--json").stdout)
    assert dry["counts"] == {"rows": 4, "ok": 2, "errors": 1, "quarantined": 1, "already": 0, "new_results": 2,
                             "corrections": 0, "finalised": 0}
    listed = list(csv.DictReader(io.StringIO((tmp_path / "errors.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["row"], r["column"], r["code"]) for r in listed] == [("4", "Staff ID", "E_NO_MATCH"), ("5", "Unit", "E_UNIT")]
    assert json.loads(ok(home, "lab", "list", fatima, "--json").stdout) == []  # a dry run writes nothing

    done = ok(home, "lab", "import", str(lab_file), "--template", "homs-phl", "--round", round_id)
    assert "4 rows: 2 ok, 1 with errors, 1 quarantined, 0 already there" in done.stdout
    again = run(home, "lab", "import", str(lab_file), "--template", "homs-phl")
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert again.stderr.startswith("error: this file was imported on") and "nothing is added twice" in again.stderr

    results = json.loads(ok(home, "lab", "list", fatima, "--json").stdout)
    assert sorted((r["test"], r["value"] or r["coded"], r["status"]) for r in results) == [
        ("anti-hbs", "8.5", "final"), ("hbsag", "positive", "final")]
    summary = json.loads(ok(home, "round", "show", round_id, "--json").stdout)
    assert summary["tested"] == 1 and summary["tests"]["hbsag"]["positive"] == 1
    [waiting] = json.loads(ok(home, "lab", "quarantine", "--json").stdout)
    assert waiting["data"]["cells"]["Name"] == "Hiba Qassem"
    assert ok(home, "lab", "match", waiting["id"], fatima).stdout.strip()
    assert json.loads(ok(home, "lab", "quarantine", "--json").stdout) == []


def test_a_result_typed_then_corrected_keeps_its_history(clinic):
    home, _fatima = clinic  # a patient of its own: the import test counts Fatima's results
    samir = add(home, "--given", "Samir", "--family", "Haddad", "--birth-date", "1975-03-09")["id"]
    made = json.loads(ok(home, "lab", "add", samir, "anti-hbs", "6", "--unit", "m[IU]/mL", "--json").stdout)
    assert (made["value"], made["interpretation"], made["loinc"]) == ("6", "L", "16935-9")
    refused = run(home, "lab", "add", samir, "anti-hbs", "6", "--unit", "IU/mL")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "never converted" in refused.stderr
    ok(home, "lab", "correct", made["id"], "16", "--reason", "the lab's sheet says 16")
    steps = json.loads(ok(home, "lab", "history", made["id"], "--json").stdout)
    assert [(s["value"], s["status"]) for s in steps] == [("6", "final"), ("16", "corrected")]
    assert "16 m[IU]/mL" in ok(home, "lab", "history", made["id"]).stdout
    assert "hbsag" in ok(home, "lab", "tests").stdout and "homs-phl" in ok(home, "lab", "templates").stdout
