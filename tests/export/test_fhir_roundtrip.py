"""A collection export of one screening round read back (reference/clinical.md E, acceptance test 3):
its lab results, the immunizations and the records of the people screened come back as the rows
they were made from, value text, unit, codes, statuses and dates alike."""

from __future__ import annotations

import pytest
from fhir_clinic import build

from fieldkit.export import fhir, fhir_bundle
from fieldkit.export.fhir_read import load, read_collection
from fieldkit.records import queries

LAB_FIELDS = ("patient_id", "test", "loinc", "value", "unit", "coded", "text", "range_low", "range_high", "range_text",
              "interpretation", "status", "collected", "issued", "lab", "sample_id", "round_id", "note")
IMMUNIZATION_FIELDS = ("patient_id", "vaccine", "series", "dose_number", "status", "primary_source", "occurred", "lot",
                       "lot_expiry", "manufacturer", "site", "route", "dose_quantity", "dose_unit", "location")


def rows(conn, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def kept(row: dict, fields) -> dict:
    found = {name: row[name] for name in fields if row.get(name) not in (None, "")}
    if "primary_source" in found:
        found["primary_source"] = bool(found["primary_source"])
    return found


def as_fhir_says(fields: dict, row: dict) -> dict:
    """A not-given record keeps its reason. One that a later dose superseded (kept as `historical`
    but recorded here) was a dose not given that day: FHIR has no more to say of it than not-done."""
    if row["status"] == "historical" and row["primary_source"]:
        fields["status"] = "not-given"
    if fields["status"] == "not-given":
        fields["reason"] = row["reason"]
    return fields


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    built = build(tmp_path_factory.mktemp("roundtrip") / "clinic.db")
    round_id = built.ids["round"]

    def read(conn):
        people = [pid for (pid,) in conn.execute("SELECT DISTINCT patient_id FROM lab_results WHERE round_id = ?",
                                                 (round_id,))]
        data = b"".join(fhir.stream(conn, patient_ids=people))
        return people, data, {
            "lab_results": {r["id"]: kept(r, LAB_FIELDS) for r in rows(conn, "SELECT * FROM lab_results WHERE round_id = ?",
                                                                    (round_id,))},
            "immunizations": {r["id"]: as_fhir_says(kept(r, IMMUNIZATION_FIELDS), r)
                              for r in rows(conn, "SELECT * FROM immunizations WHERE patient_id IN "
                                                  "(SELECT value FROM json_each(?))", (fhir._json_list(people),))},
            "patients": {pid: queries.patient_fields(conn, pid) for pid in people}}

    people, data, stored = built.store.read(read)
    yield people, data, stored
    built.store.close()


def test_the_rounds_lab_results_come_back_as_they_were_stored(screened):
    _people, data, stored = screened
    bundle = load(data)
    fhir_bundle.check_bundle(bundle)
    back = read_collection(bundle)
    assert len(stored["lab_results"]) == 3
    assert back["lab_results"] == stored["lab_results"]  # "4.50" stays "4.50", "12.0" stays "12.0"
    assert {r["value"] for r in back["lab_results"].values() if "value" in r} == {"4.50", "12.0"}


def test_the_immunizations_of_the_people_screened_come_back_too(screened):
    _people, data, stored = screened
    back = read_collection(load(data))
    assert len(stored["immunizations"]) == 7
    assert back["immunizations"] == stored["immunizations"]
    assert {r["status"] for r in back["immunizations"].values()} == {"given", "historical", "not-given", "entered-in-error"}
    assert {r["occurred"] for r in back["immunizations"].values()} >= {"2019", "2019-08"}  # partial dates, as recorded


def test_the_people_screened_come_back_but_for_what_fhir_keeps_as_an_age(screened):
    people, data, stored = screened
    back = read_collection(load(data))
    for pid in people:
        expected = dict(stored["patients"][pid])
        if expected.get("birth_date_estimated"):  # an estimated birth date leaves as the year it gives
            expected["birth_date"] = expected["birth_date"][:4]
        assert back["patients"][pid] == expected
