"""`fieldkit export fhir` as a supervisor runs it: a real process on a real data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fieldkit.export import fhir_bundle
from fieldkit.export.fhir_read import load

PASSPHRASE = "field kit 2026"


def run(home, *args, **env):
    # Signed in as the supervisor unless a test says otherwise (--user): the clinic has a clinician too.
    environment = {**os.environ, "FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": PASSPHRASE, "FIELDKIT_USER": "amina",
                   **env}
    environment.pop("FIELDKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True, env=environment,
                          timeout=120)


def ok(home, *args, **env):
    result = run(home, *args, **env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    home = tmp_path_factory.mktemp("export") / "clinic"
    ok(home, "init", "--supervisor", "amina")
    patient = json.loads(ok(home, "patient", "add", "--json", "--given", "Lan", "--family", "Trần", "--age", "40",
                            "--phone", "0912345678").stdout)["id"]
    ok(home, "encounter", "add", patient, "--temp", "38.9", "--pulse", "118", "--rr", "26", "--spo2", "91", "--sbp", "96",
       "--avpu", "A", "--diagnosis", "J18.9:pneumonia", "--rx", "amoxicillin;1 g;oral;tds;5")
    return home, patient


def test_a_collection_is_written_where_asked_with_its_counts(clinic, tmp_path):
    home, patient = clinic
    out = tmp_path / "stick" / "export.json"
    out.parent.mkdir()
    result = ok(home, "export", "fhir", "-o", str(out), "--json")
    printed = json.loads(result.stdout)
    assert printed["counts"] == {"Condition": 1, "Encounter": 1, "MedicationRequest": 1, "Observation": 6, "Patient": 1}
    assert result.stderr == f"wrote {out}\n" and printed["type"] == "collection" and printed["next_since"]
    bundle = load(out.read_bytes())
    fhir_bundle.check_bundle(bundle)
    [person] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert person["id"] == patient.lower() and len(person["birthDate"]) == 4  # an age typed: the year it gives
    assert not list(out.parent.glob("*.part"))
    text = ok(home, "export", "fhir", "-o", str(out), "--no-validate").stdout
    assert "Observation" in text and "total" in text and "--since-file" not in text


def test_a_since_file_carries_each_export_on_from_where_the_last_one_ended(clinic, tmp_path):
    home, patient = clinic
    position = tmp_path / "hub-position.json"
    first = ok(home, "export", "fhir", "-o", str(tmp_path / "all.json"), "--type", "transaction", "--since-file",
               str(position), "--json")
    printed = json.loads(first.stdout)
    assert printed["since"] is None and printed["counts"]["Patient"] == 1  # no file yet: everything
    assert json.loads(position.read_text()) == printed["next_since"] and not list(tmp_path.glob("*.part"))
    text = ok(home, "export", "fhir", "-o", str(tmp_path / "none.json"), "--type", "transaction", "--since-file",
              str(position)).stdout
    assert f"the next export with --since-file {position} starts here" in text and "total" in text
    assert "entry" not in load((tmp_path / "none.json").read_bytes())  # nothing changed since
    ok(home, "patient", "edit", patient, "--locality", "Sóc Trăng")
    changed = json.loads(ok(home, "export", "fhir", "-o", str(tmp_path / "changed.json"), "--type", "transaction",
                            "--since-file", str(position), "--json").stdout)
    assert changed["counts"] == {"Patient": 1} and changed["since"] == printed["next_since"]
    [item] = load((tmp_path / "changed.json").read_bytes())["entry"]
    assert item["request"] == {"method": "PUT", "url": f"Patient/{patient.lower()}"}
    assert item["resource"]["address"] == [{"text": "Sóc Trăng"}]
    assert json.loads(position.read_text()) == changed["next_since"] != printed["next_since"]


def test_since_a_date_is_the_approximate_convenience(clinic, tmp_path):
    home, _patient = clinic
    before = json.loads(ok(home, "export", "fhir", "-o", str(tmp_path / "a.json"), "--since", "2000-01-01",
                           "--json").stdout)
    assert before["counts"]["Patient"] == 1 and set(before["since"].values()) == {0}
    after = json.loads(ok(home, "export", "fhir", "-o", str(tmp_path / "b.json"), "--since", "2999-01-01T00:00+00:00",
                          "--json").stdout)
    assert after["counts"] == {} and after["since"] == after["next_since"]


def test_only_a_supervisor_exports(clinic, tmp_path):
    home, patient = clinic
    ok(home, "user", "add", "lan", "--role", "clinician",
       FIELDKIT_NEW_PASSPHRASE="lan phrase 1")
    for args in (("fhir",), ("ips", patient)):
        refused = run(home, "--user", "lan", "export", *args, "-o", str(tmp_path / "x.json"),
                      FIELDKIT_PASSPHRASE="lan phrase 1")
        assert refused.returncode == 1 and refused.stderr == "error: a clinician may not export records\n"
    assert not list(tmp_path.iterdir())


def test_a_patient_summary_is_a_document_written_where_asked(clinic, tmp_path):
    home, patient = clinic
    out = tmp_path / "summary.json"
    printed = json.loads(ok(home, "export", "ips", patient, "-o", str(out), "--json").stdout)
    assert printed["sections"] == {"problems": 1, "medications": 1, "allergies": 0, "immunizations": 0, "results": 0,
                                   "vital_signs": 5}
    bundle = load(out.read_bytes())
    fhir_bundle.check_bundle(bundle)
    assert bundle["type"] == "document" and bundle["identifier"]["value"] == printed["document"]
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    text = ok(home, "export", "ips", patient, "-o", str(out)).stdout
    assert "Allergies and intolerances" in text
    unknown = run(home, "export", "ips", "NOPE", "-o", str(tmp_path / "x.json"))
    assert unknown.returncode == 1 and unknown.stderr == "error: no patient with id NOPE\n"
    assert not (tmp_path / "x.json").exists() and not list(tmp_path.glob("*.part"))


def test_refusals_are_one_line_and_leave_no_file(clinic, tmp_path):
    home, _patient = clinic
    inside = run(home, "export", "fhir", "-o", str(home / "export.json"))
    assert inside.returncode == 1 and inside.stderr.count("\n") == 1 and "never into the clinic's data folder" in inside.stderr
    assert not (home / "export.json").exists()
    unknown = run(home, "export", "fhir", "-o", str(tmp_path / "x.json"), "--patient", "NOPE")
    assert unknown.returncode == 1 and unknown.stderr == "error: no patient with id NOPE\n"
    assert not list(tmp_path.iterdir())
    since = run(home, "export", "fhir", "-o", str(tmp_path / "x.json"), "--since", "yesterday")
    assert since.returncode == 1 and "is not a date and time" in since.stderr and "Traceback" not in since.stderr
    both = run(home, "export", "fhir", "-o", str(tmp_path / "x.json"), "--since", "2026-01-01", "--since-file",
               str(tmp_path / "p.json"))
    assert both.returncode == 1 and "not both" in both.stderr
    (tmp_path / "bad.json").write_text('{"a": -1}')
    bad = run(home, "export", "fhir", "-o", str(tmp_path / "x.json"), "--since-file", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "not a version vector" in bad.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.json"]
