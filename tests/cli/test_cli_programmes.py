"""The referral, programme and letter commands as a user runs them: real processes, a real clinic,
the printed letter's QR read back by zbar from the rendered page."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest
from test_cli import add, ok, run
from tools_support import tool


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    home = tmp_path_factory.mktemp("programmes") / "clinic"
    ok(home, "init", "--supervisor", "amina")
    ok(home, "referral", "here", "EG-QAL-RHU1")
    patient = add(home, "--given", "Mehdi", "--family", "Rahimi", "--birth-date", "1974-05-02", "--allergy", "penicillin")["id"]
    ok(home, "encounter", "add", patient, "--temp", "38.9", "--pulse", "118", "--rr", "26", "--spo2", "91",
       "--sbp", "96", "--diagnosis", "J18.9:pneumonia", "--rx", "amoxicillin;1 g;oral;tds;5", "--notes", "cough 5 days")
    return home, patient


def test_a_referral_from_request_to_feedback(clinic):
    home, patient = clinic
    made = json.loads(ok(home, "referral", "add", patient, "--to", "Benha University Hospital", "--urgency", "urgent",
                         "--reason", "pneumonia not improving", "--icd10", "J18.9", "--tests", "CXR: right lower lobe",
                         "--json").stdout)
    assert made["number"].startswith("EG-QAL-RHU1-") and made["status"] == "requested"
    refused = run(home, "referral", "event", made["id"], "feedback", "--findings", "seen")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "cannot be marked feedback" in refused.stderr
    ok(home, "referral", "event", made["id"], "sent")
    ok(home, "referral", "event", made["id"], "arrived")
    assert "now completed" in ok(home, "referral", "event", made["id"], "feedback", "--findings", "lobar pneumonia",
                                 "--recommendations", "amoxicillin 7 days").stdout
    listed = json.loads(ok(home, "referral", "list", "--json").stdout)
    assert [f["referral_id"] for f in listed["feedback"]] == [made["id"]]
    shown = ok(home, "referral", "show", made["id"]).stdout
    assert "feedback  by amina" in shown and "allergies penicillin" in shown


def test_a_letter_is_written_only_where_asked_and_its_scanned_code_verifies(clinic, tmp_path):
    home, patient = clinic
    untested = json.loads(ok(home, "referral", "add", patient, "--to", "EG-BNH-UH", "--reason", "review",
                             "--json").stdout)["id"]
    incomplete = run(home, "letter", "print", untested, "--out", str(tmp_path / "incomplete.pdf"))
    assert incomplete.returncode == 1 and incomplete.stderr == "error: the letter cannot be printed: missing tests done\n"
    assert not (tmp_path / "incomplete.pdf").exists()
    referral = json.loads(ok(home, "referral", "add", patient, "--to", "EG-BNH-UH", "--reason", "review",
                             "--tests", "CXR: right lower lobe", "--json").stdout)["id"]
    inside = run(home, "letter", "print", referral, "--out", str(home / "letter.pdf"))
    assert inside.returncode == 1 and "never into the clinic's data folder" in inside.stderr
    assert not (home / "letter.pdf").exists()
    pdf = tmp_path / "stick" / "letter.pdf"
    assert ok(home, "letter", "print", referral, "--out", str(pdf)).stdout.strip() == str(pdf)
    assert json.loads(ok(home, "referral", "show", referral, "--json").stdout)["status"] == "issued"
    subprocess.run([tool("pdftoppm"), "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    [page] = tmp_path.glob("page*.png")
    code = subprocess.run([tool("zbarimg"), "--raw", "-q", str(page)], capture_output=True, text=True, check=True).stdout.strip()
    assert "Mehdi" not in code and "J18" not in code
    assert ok(home, "letter", "verify", input=code + "\n").stdout.startswith("valid")
    altered = code[:20] + ("A" if code[20] != "A" else "B") + code[21:]
    refused = run(home, "letter", "verify", altered)
    assert refused.returncode == 1 and refused.stdout.startswith("not valid")


def test_a_home_cohort_enrolment_check_in_worklist_and_report(clinic, tmp_path):
    home, _patient = clinic
    patient = add(home, "--given", "Trần", "--family", "Văn An", "--phone", "0912345678")["id"]
    enrolment = ok(home, "programme", "enrol", patient, "home-triage", "--team", "Vinh Chau").stdout.strip()
    again = run(home, "programme", "enrol", patient, "home-triage")
    assert again.returncode == 1 and "already enrolled" in again.stderr
    due = json.loads(ok(home, "programme", "worklist", "--json").stdout)
    assert [d["enrolment_id"] for d in due] == [enrolment]
    red = json.loads(ok(home, "programme", "checkin", enrolment, "--spo2", "٨٧", "--rr", "24", "--json").stdout)
    assert red["alert"]["level"] == "red" and red["spo2"] == 87
    assert json.loads(ok(home, "programme", "worklist", "--json").stdout) == []
    [waiting] = json.loads(ok(home, "programme", "escalations", "--json").stdout)
    referral = ok(home, "programme", "transfer", waiting["id"], "--to", "VN-ST-GH", "--reason", "SpO2 87%").stdout.strip()
    assert json.loads(ok(home, "referral", "show", referral, "--json").stdout)["escalated_from"] == waiting["id"]
    closing = run(home, "programme", "move", enrolment, "completed")
    assert closing.returncode == 1 and "needs an outcome" in closing.stderr
    ok(home, "programme", "move", enrolment, "completed", "--outcome", "escalated")
    sheet = tmp_path / "cohort.csv"
    made = json.loads(ok(home, "programme", "report", "home-triage", "--by", "outcome", "--json", "--csv", str(sheet)).stdout)
    assert made["counts"] == {"unit": "patients", "by": "outcome", "total": 1, "groups": {"escalated": 1}}
    assert made["parameters"]["by"] == "outcome" and made["generated"]
    text = sheet.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    [row] = list(csv.DictReader(io.StringIO(text[1:])))
    assert row["name"] == "Trần Văn An" and row["outcome"] == "escalated"
