"""The `fieldkit` command, run as a user runs it: a real process, a real data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PASSPHRASE = "field kit 2026"


def run(home, *args, passphrase=PASSPHRASE, env=None, input=None):
    environment = {**os.environ, "FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": passphrase, **(env or {})}
    environment.pop("FIELDKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True,
                          env=environment, input=input, timeout=120)


def ok(home, *args, **kw):
    result = run(home, *args, **kw)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "clinic"
    ok(home, "init", "--supervisor", "amina")
    return home


def add(home, *args):
    return json.loads(ok(home, "patient", "add", "--json", *args).stdout)


def test_register_search_show_and_encounter(clinic):
    pid = add(clinic, "--given", "فاطمة", "--family", "الحسن", "--sex", "female", "--age", "٣٤",
              "--phone", "+963 944 123 456", "--allergy", "penicillin")["id"]
    found = json.loads(ok(clinic, "patient", "search", "fatima", "--json").stdout)
    assert pid in [p["id"] for p in found]
    found = json.loads(ok(clinic, "patient", "search", "0944123456", "--json").stdout)
    assert [p["id"] for p in found] == [pid]

    out = json.loads(ok(clinic, "encounter", "add", pid, "--json", "--temp", "٣٩٫٢", "--pulse", "118",
                        "--rr", "24", "--sbp", "98", "--dbp", "60", "--spo2", "93", "--avpu", "A",
                        "--diagnosis", "J18.9:pneumonia", "--follow-up", "2026-12-01").stdout)
    assert out["news2"]["total"] == 2 + 2 + 2 + 2 + 2  # temp 39.2, pulse 118, RR 24, SBP 98, SpO2 93
    assert out["news2"]["band"] == "high" and out["qsofa"]["total"] == 2
    assert out["warnings"] == []
    alarming = ok(clinic, "encounter", "add", pid, "--spo2", "٨٥", "--pulse", "80")
    assert alarming.stderr == "warning: SpO2 85 % is very low\n"

    record = json.loads(ok(clinic, "patient", "show", pid, "--json").stdout)
    assert record["given_name"] == "فاطمة" and record["allergies"] == ["penicillin"]
    assert record["birth_date_estimated"] is True
    assert len(record["encounters"]) == 2 and len(record["followups"]) == 1

    text = ok(clinic, "patient", "show", pid).stdout
    assert "ALLERGIES: penicillin" in text and "NEWS2 10 (high)" in text


def test_duplicate_is_a_warning_not_a_block(clinic):
    first = add(clinic, "--given", "Nguyễn", "--family", "Hương", "--phone", "0912 345 678")["id"]
    result = run(clinic, "patient", "add", "--given", "Nguyen", "--family", "Huong", "--phone", "0912345678")
    assert result.returncode == 0
    assert f"possible duplicate {first}" in result.stderr
    assert result.stdout.strip() and result.stdout.strip() != first


def test_edit_changes_only_given_fields(clinic):
    pid = add(clinic, "--given", "Reza", "--family", "Karimi", "--locality", "Yazd")["id"]
    assert ok(clinic, "patient", "edit", pid, "--locality", "Kerman").stdout.strip() == "changed locality"
    assert ok(clinic, "patient", "edit", pid, "--locality", "Kerman").stdout.strip() == "nothing changed"
    record = json.loads(ok(clinic, "patient", "show", pid, "--json").stdout)
    assert (record["given_name"], record["locality"]) == ("Reza", "Kerman")


def test_bad_input_is_one_line_and_changes_nothing(clinic):
    pid = add(clinic, "--given", "Hoa")["id"]
    before = ok(clinic, "db", "check", "--json").stdout
    result = run(clinic, "encounter", "add", pid, "--temp", "52")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "Temperature" in result.stderr and "45" in result.stderr
    after = ok(clinic, "db", "check", "--json").stdout
    assert json.loads(before)["journal_entries"] == json.loads(after)["journal_entries"]


def test_wrong_passphrase_is_one_line_and_nonzero(clinic):
    # the keystore counts the refusal (tests/campaign/test_passphrase.py); the database is untouched
    files = {p: p.read_bytes() for p in clinic.iterdir() if p.name.endswith(".db") and p.name != "keystore.db"}
    result = run(clinic, "patient", "search", "x", passphrase="not the passphrase")
    assert result.returncode == 1
    assert result.stderr == "error: wrong passphrase for amina\n"
    assert {p: p.read_bytes() for p in files} == files


def test_unknown_patient_is_one_line(clinic):
    result = run(clinic, "patient", "show", "NOPE")
    assert result.returncode == 1 and result.stderr == "error: no patient with id NOPE\n"


def test_db_check_rebuild_and_audit(clinic):
    check = json.loads(ok(clinic, "db", "check", "--json").stdout)
    assert check["ok"] and check["integrity"] == "ok" and check["journal"] == "ok"
    assert check["tables"]["journal"] == check["journal_entries"] and check["tables"]["patients"] == check["patients"]
    assert "rows: " in ok(clinic, "db", "check").stdout
    rebuilt = json.loads(ok(clinic, "db", "rebuild", "--json").stdout)
    assert rebuilt["same"] and rebuilt["state_after"] == check["state_hash"]
    audit = json.loads(ok(clinic, "audit", "verify", "--json").stdout)
    assert audit["ok"] and audit["rows"] >= check["journal_entries"]


def test_users_roles_and_passwd(tmp_path):
    home = tmp_path / "c"
    ok(home, "init", "--supervisor", "amina")
    ok(home, "--user", "amina", "user", "add", "bao", "--role", "clerk", env={"FIELDKIT_NEW_PASSPHRASE": "bao phrase 1"})
    users = json.loads(ok(home, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in users] == [("amina", "supervisor"), ("bao", "clerk")]
    pid = json.loads(ok(home, "--user", "bao", "patient", "add", "--json", "--given", "Lan",
                        passphrase="bao phrase 1").stdout)["id"]
    refused = run(home, "--user", "bao", "encounter", "add", pid, "--pulse", "80", passphrase="bao phrase 1")
    assert refused.returncode == 1 and "a clerk may not record encounter" in refused.stderr
    ok(home, "--user", "bao", "db", "passwd", passphrase="bao phrase 1", env={"FIELDKIT_NEW_PASSPHRASE": "bao phrase 2"})
    assert run(home, "--user", "bao", "patient", "search", "lan", passphrase="bao phrase 1").returncode == 1
    ok(home, "--user", "bao", "patient", "search", "lan", passphrase="bao phrase 2")


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, fieldkit.cli; "
            "heavy = [m for m in ('textual', 'sqlcipher3', 'pydantic', 'cryptography', 'rapidfuzz') if m in sys.modules]; "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_impossible_age_is_one_line(clinic):
    result = run(clinic, "patient", "add", "--given", "Lan", "--age", "140")
    assert result.returncode == 1 and result.stderr == "error: Age: 140 years is not possible (0–125)\n"


def test_a_small_demo_clinic_is_made_without_a_lab_file(tmp_path):
    # thirty patients hold no screened staff: the demo then offers no lab file (it failed on one)
    home = tmp_path / "demo"
    result = ok(home, "--home", str(home), "demo", "--no-tui", "--patients", "30")
    assert "passphrase:" in result.stdout and "lab's file" not in result.stdout
    assert json.loads(ok(home, "--home", str(home), "db", "check", "--json", passphrase="demo-clinic-2026").stdout)["ok"]
