"""DHIS2 aggregate export (reference/clinical.md E): a mapping from fieldkit's indicators to data
element and org unit codes, the dataValueSets JSON and CSV, and totals equal to the hub's line lists."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hub_support import database, open_storage
from report_support import DOCTOR, registered, replica, upload

from fieldkit.errors import FieldkitError
from fieldkit.export import dhis2
from fieldkit.hub import reports
from fieldkit.hub.replica import refresh
from fieldkit.records import enrolments, immunizations, labs, screening

MONTH = date.today().strftime("%Y-%m")


def mapping(**org_units: str) -> dhis2.Mapping:
    """The shipped indicators, placed in the org units given."""
    shipped = dhis2.load_mapping()
    return shipped.model_copy(update={"org_units": org_units, "data_set": "FK_MONTHLY"})


def test_the_shipped_mapping_reads_and_names_reports_the_hub_has():
    shipped = dhis2.load_mapping()
    assert {i.name for i in shipped.indicators} >= {"home-triage enrolled", "home-triage completed", "home-triage died",
                                                    "home-triage transferred", "staff screened", "HBsAg positive",
                                                    "hepatitis B doses given"}
    for indicator in shipped.indicators:
        d = reports.definition(indicator.report)
        assert {*indicator.filters, indicator.period_by, indicator.org_unit_by} <= set(reports.filters_of(d))


def test_a_value_set_sums_each_org_units_laptops_and_names_everything_by_code():
    counts = [dhis2.Count("home-triage enrolled", "laptop-1", 3), dhis2.Count("home-triage enrolled", "laptop-2", 4),
              dhis2.Count("home-triage enrolled", "laptop-3", 5), dhis2.Count("home-triage died", "laptop-1", 0)]
    made = dhis2.data_value_set(counts, mapping(**{"laptop-1": "OU_A", "laptop-2": "OU_A", "laptop-3": "OU_B"}),
                                period="2024-05")
    assert made["idScheme"] == "CODE" and made["dataSet"] == "FK_MONTHLY" and made["period"] == "202405"
    assert "orgUnit" not in made  # two org units: each value names its own
    assert [(v["orgUnit"], v["value"]) for v in made["dataValues"]] == [("OU_A", "7"), ("OU_B", "5")]
    assert {v["dataElement"] for v in made["dataValues"]} == {"FK_HT_ENROLLED"}  # a zero is no value
    assert made["dataValues"][0] == {"dataElement": "FK_HT_ENROLLED", "period": "202405", "orgUnit": "OU_A",
                                     "categoryOptionCombo": "default", "value": "7", "storedBy": "fieldkit"}
    table = list(csv.reader(io.StringIO(dhis2.to_csv(made, last_updated="2024-06-01"))))
    assert table[0] == ["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value", "storedby",
                        "lastupdated", "comment", "followup"]
    assert table[1] == ["FK_HT_ENROLLED", "202405", "OU_A", "default", "", "7", "fieldkit", "2024-06-01", "", "false"]


def test_a_count_the_mapping_cannot_place_is_refused_never_dropped():
    with pytest.raises(FieldkitError, match="no DHIS2 org unit for “laptop-9”"):
        dhis2.data_value_set([dhis2.Count("home-triage enrolled", "laptop-9", 1)], mapping(), period="2024-05")
    with pytest.raises(FieldkitError, match="not an indicator"):
        dhis2.data_value_set([dhis2.Count("bed nets", "laptop-1", 1)], mapping(**{"laptop-1": "OU"}), period="2024-05")
    with pytest.raises(FieldkitError, match="monthly period"):
        dhis2.period_of("May 2024")


def test_a_mapping_that_would_sum_two_indicators_into_one_value_is_refused(tmp_path):
    text = dhis2.SHIPPED.read_text().replace('"FK_HT_DIED"', '"FK_HT_ENROLLED"')
    (tmp_path / "dhis2.toml").write_text(text)
    with pytest.raises(FieldkitError, match="listed twice"):
        dhis2.load_mapping(tmp_path / "dhis2.toml")


def clinic_month(store, prefix: str, deaths: int) -> None:
    """A month's work: enrolments (some closed), a screening round's results, hepatitis B doses."""
    def job(tx):
        people = [registered(tx, f"{prefix} {n}", birth_date="1985-01-01") for n in range(6)]
        for n, person in enumerate(people):
            eid = enrolments.enrol(tx, DOCTOR, {"patient_id": person, "programme": "home-triage"})
            if n < deaths:
                enrolments.move(tx, DOCTOR, eid, "completed", outcome="died")
            elif n == 5:
                enrolments.move(tx, DOCTOR, eid, "completed", outcome="escalated")
        round_id = screening.create_round(tx, DOCTOR, {"name": f"{prefix} round", "starts": MONTH + "-01",
                                                       "tests": ["hbsag", "anti-hcv"]})
        for n, person in enumerate(people[:4]):
            labs.record(tx, DOCTOR, {"patient_id": person, "test": "hbsag", "value": "positive" if n < 2 else "negative",
                                     "round_id": round_id})
            labs.record(tx, DOCTOR, {"patient_id": person, "test": "anti-hcv", "value": "negative", "round_id": round_id})
        for person in people[:3]:
            immunizations.give(tx, DOCTOR, {"patient_id": person, "vaccine": "hepb-adult", "lot": "HB-1"})
    store.write(job)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_dhis2_totals_equal_the_hubs_line_lists(tmp_path, make_store, kind):
    """clinical.md E test 4: what the value set sends is what the hub's line lists hold."""
    homs, tra_vinh = make_store(), make_store()
    clinic_month(homs, "H", deaths=1)
    clinic_month(tra_vinh, "T", deaths=2)
    with database(kind, tmp_path) as url:
        storage = open_storage(url)
        upload(storage, homs, tra_vinh)
        with replica(tmp_path / "replica.db") as held:
            refresh(storage, held)
        chosen = mapping(**{homs.device_id: "OU_HOMS", tra_vinh.device_id: "OU_TRA_VINH"})
        made = dhis2.data_value_set(reports.dhis2_counts(storage, chosen, MONTH), chosen, period=MONTH)
        sent = dhis2.totals(made, chosen)
        listed = {i.name: reports.line_list(storage, i.report, {**i.filters, i.period_by: MONTH}, limit=0).total
                  for i in chosen.indicators}
        storage.close()
    assert sent == {name: total for name, total in listed.items() if total}
    assert (sent["home-triage enrolled"], sent["home-triage died"], sent["home-triage transferred"],
            sent["staff screened"], sent["HBsAg positive"], sent["hepatitis B doses given"]) == (12, 3, 2, 8, 4, 6)
    assert {v["orgUnit"] for v in made["dataValues"]} == {"OU_HOMS", "OU_TRA_VINH"}
