"""`fieldkit vaccine` as a user runs it: real processes on a real clinic's data directory."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from test_cli import add, ok, run

TODAY = date.today()


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    home = tmp_path_factory.mktemp("vaccines") / "clinic"
    ok(home, "init", "--supervisor", "amina")
    return home


def test_a_staff_members_hepatitis_b_doses_card_and_the_due_list(clinic):
    home = clinic
    nurse = add(home, "--given", "Rania", "--family", "Haddad", "--birth-date", "02/04/1985")["id"]
    ok(home, "vaccine", "lot", "add", "hepb-adult", "HB-2291", "--expiry", (TODAY + timedelta(days=300)).isoformat(),
       "--manufacturer", "Serum Institute of India")
    first = json.loads(ok(home, "vaccine", "give", nurse, "Hepatitis B vaccine (adult)", "--lot", "HB-2291",
                          "--date", (TODAY - timedelta(days=60)).strftime("%d/%m/%Y"), "--json").stdout)
    assert (first["dose_number"], first["warnings"]) == (1, [])
    early = (TODAY - timedelta(days=39)).isoformat()
    refused = run(home, "vaccine", "give", nurse, "hepb-adult", "--date", early)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: below minimum interval: dose 2 is allowed from")
    saved = ok(home, "vaccine", "give", nurse, "hepb-adult", "--date", early, "--early-reason", "posted to Palmyra")
    assert "dose 2  [below minimum interval]" in saved.stdout
    assert saved.stderr == "warning: no lot recorded: add it if you can\n"

    porter = add(home, "--given", "Fadi", "--birth-date", "1990-01-01")["id"]
    ok(home, "vaccine", "historical", porter, "hepb-adult", "--date", "2019", "--where", "Damascus")
    due = json.loads(ok(home, "vaccine", "due", "hepb-staff", "--json").stdout)
    assert [(row["patient_id"], row["dose"], row["state"]) for row in due] == [(porter, 2, "overdue")]
    assert "Fadi" in ok(home, "vaccine", "due", "hepb-staff", "--overdue").stdout

    shown = json.loads(ok(home, "vaccine", "list", nurse, "--json").stdout)
    [staff] = [c for c in shown["schedules"] if c["schedule"] == "hepb-staff@1"]
    assert [(d["number"], d["state"], d["flags"]) for d in staff["doses"]] == [
        (1, "complete", []), (2, "complete", ["below minimum interval"]), (3, "too early", [])]
    assert staff["immunity"][0]["state"] == "series in progress"
    error = ok(home, "vaccine", "error", saved.stdout.split()[0], "--reason", "recorded on the wrong person")
    assert "entered in error" in error.stdout
    text = ok(home, "vaccine", "list", nurse).stdout
    assert "entered-in-error" in text and "lot HB-2291" in text


def test_lots_schedules_codes_and_a_refusal_in_one_line(clinic):
    home = clinic
    child = add(home, "--given", "Lina", "--birth-date", (TODAY - timedelta(weeks=7)).isoformat())["id"]
    refused = run(home, "vaccine", "not-given", child, "penta", "--reason", "other")
    assert refused.returncode == 1 and refused.stderr == "error: say why the dose was not given\n"
    ok(home, "vaccine", "not-given", child, "penta", "--reason", "out-of-stock")
    due = json.loads(ok(home, "vaccine", "due", "childhood-epi", "--json").stdout)
    assert {(row["series"], row["dose"]) for row in due if row["patient_id"] == child} >= {("penta", 1), ("bcg", 1)}
    unknown = run(home, "vaccine", "give", child, "smallpox")
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: no vaccine “smallpox” (known: ")
    # An expired lot stays listed, marked (old records name it); the module's other test adds a live one.
    ok(home, "vaccine", "lot", "add", "hepb-adult", "HB-0917", "--expiry", (TODAY - timedelta(days=30)).isoformat())
    lots = json.loads(ok(home, "vaccine", "lots", "--vaccine", "hepb-adult", "--json").stdout)
    assert ("HB-0917", True) in [(lot["lot"], lot["expired"]) for lot in lots]
    assert set(json.loads(ok(home, "vaccine", "schedules", "--json").stdout)) == {"hepb-staff", "childhood-epi"}
    codes = json.loads(ok(home, "vaccine", "codes", "--json").stdout)
    assert (codes["hepb-adult"]["icd11"], codes["hepb-adult"]["atc"]) == ("XM9V38", "J07BC01")
