"""Programme managers' reports on the hub (reference/clinical.md G), on SQLite and a real PostgreSQL:
laptops' entries in the hub's storage, folded by its replica, counted as the laptops' registry
counts them; the files; the routes and the commands that serve them."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
from hub_support import HUB_KEY, database, enrol_hub, open_storage, running_hub
from python_calamine import CalamineWorkbook
from report_support import DOCTOR, cumulative, registered, replica, upload
from sync_support import PASSPHRASE, network

from fieldkit.errors import FieldkitError
from fieldkit.hub import report_files, reports
from fieldkit.hub.replica import refresh
from fieldkit.hub.reporting import ATTRIBUTE_COLUMNS
from fieldkit.records import enrolments, immunizations, labs, referral_services, registry, screening
from fieldkit.store.db import Store
from fieldkit.store.hlc import HybridClock, wall_ms
from fieldkit.store.session import add_user
from fieldkit.sync.forwarder import push

TODAY = date.today()
LIBYA = {"Tunisia": 4416, "Egypt": 970, "Turkey": 186, "Germany": 48}
SOC_TRANG = {"completed": 1662, "escalated": 187, "died": 9, "lost": 41, "withdrew": 18}  # + 40 active = 1,957
AWAY = 70  # days since the stale laptop last wrote (and so was last heard of)
BACKENDS = ["sqlite", "postgresql"]


def staff_round(tx) -> None:
    """Homs staff screened for hepatitis B: two positive; one immune after a full series and an
    anti-HBs of 12, one a dose into a series, two never vaccinated."""
    round_id = screening.create_round(tx, DOCTOR, {"name": "Homs staff 2026", "starts": TODAY.isoformat(),
                                                   "tests": ["hbsag", "anti-hbs"]})
    staff = [registered(tx, name, birth_date="1985-03-01") for name in ("Rasha", "Yousef", "Hala", "Karim")]
    for person, reading in zip(staff, ("positive", "negative", "positive", "negative")):
        labs.record(tx, DOCTOR, {"patient_id": person, "test": "hbsag", "value": reading, "round_id": round_id})
    for days in (200, 170, 40):
        immunizations.give(tx, DOCTOR, {"patient_id": staff[1], "vaccine": "hepb-adult", "lot": "HB-7",
                                        "occurred": (TODAY - timedelta(days=days)).isoformat()})
    immunizations.give(tx, DOCTOR, {"patient_id": staff[2], "vaccine": "hepb-adult", "lot": "HB-7"})
    labs.record(tx, DOCTOR, {"patient_id": staff[1], "test": "anti-hbs", "value": "12", "unit": "m[IU]/mL",
                             "round_id": round_id})


@pytest.fixture(scope="module")
def laptops(tmp_path_factory):
    """The branch office's laptop (Libya's 5,620 files, Soc Trang's 1,957, one patient sent abroad
    twice) and one not heard from for ten weeks, its clock set back to when it last wrote."""
    root = tmp_path_factory.mktemp("laptops")
    office = Store(root / "office.db", os.urandom(32), device_id="0f" * 16)
    away = Store(root / "away.db", os.urandom(32), device_id="0a" * 16)
    away.clock = HybridClock(0, wall=lambda: wall_ms() - AWAY * 86_400_000)

    def build(tx):
        ids = []
        for n in range(5620):
            country = next(c for c, upto in zip(LIBYA, cumulative(LIBYA.values())) if n < upto)
            ids.append(registered(tx, f"مريض {n}"))
            enrolments.enrol(tx, DOCTOR, {"patient_id": ids[-1], "programme": "oncology-abroad", "attributes": {
                "destination_country": country, "cancer_site": "breast" if n % 3 else "colon",
                "branch_office": "Tripoli" if n % 2 else "Benghazi"}})
        outcomes = [outcome for outcome, count in SOC_TRANG.items() for _ in range(count)] + [None] * 40
        for n, outcome in enumerate(outcomes):
            eid = enrolments.enrol(tx, DOCTOR, {"patient_id": registered(tx, f"Bệnh nhân {n}"),
                                                "programme": "home-triage", "team": "Vinh Chau",
                                                "enrolled_on": (TODAY - timedelta(days=30)).isoformat()})
            if outcome:
                enrolments.move(tx, DOCTOR, eid, "completed", outcome=outcome)
        for _ in range(2):  # one patient sent abroad twice
            referral_services.refer(tx, DOCTOR, {"patient_id": ids[0], "to_facility": "TN-SAI"})
        return ids
    ids = office.write(build)
    office.write(staff_round)
    away.write(lambda tx: [enrolments.enrol(tx, DOCTOR, {
        "patient_id": registered(tx, f"Far {n}"), "programme": "home-triage", "team": "Long Phu",
        "enrolled_on": (TODAY - timedelta(days=AWAY)).isoformat()}) for n in range(3)])
    yield office, away, ids[0]
    office.close()
    away.close()


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request, laptops, tmp_path_factory):
    """The hub's storage holding both laptops' entries, its reporting tables refreshed."""
    root = tmp_path_factory.mktemp(request.param)
    with database(request.param, root) as url:
        storage = open_storage(url)
        upload(storage, *laptops[:2])
        with replica(root / "replica.db") as held:
            refresh(storage, held)
        yield storage
        storage.close()


def test_libya_by_destination_counts_5620_patients_as_the_laptop_does(hub, laptops):
    office = laptops[0]
    by = reports.counts(hub, "enrolled-patients@1", "destination_country", {"programme": "oncology-abroad"})
    assert by.unit == "patients" and by.total == 5620
    assert {row["destination_country"]: row["count"] for row in by.rows} == LIBYA
    laptop = office.read(lambda conn: registry.counts(registry.line_list(conn, "oncology-abroad"),
                                                      "destination_country", unit="patients"))
    assert {row["destination_country"]: row["count"] for row in by.rows} == laptop["groups"]
    listed = reports.line_list(hub, "enrolled-patients", {"programme": "oncology-abroad",
                                                          "destination_country": "Tunisia"}, limit=5)
    assert listed.total == 4416 and len(listed.rows) == 5
    assert {row["destination_country"] for row in listed.rows} == {"Tunisia"}
    assert by.definition.ref == "enrolled-patients@1" and by.parameters == {
        "programme": "oncology-abroad", "by": "destination_country"}


def test_every_grouping_of_every_report_partitions_its_total(hub):
    """clinical.md G test 1: breakdowns sum to the headline, which equals the line list's count."""
    for d in reports.DEFINITIONS.values():
        listed = reports.line_list(hub, d.ref, {}, limit=0)
        for by in reports.groups(d):
            counted = reports.counts(hub, d.ref, by, {})
            assert sum(row["count"] for row in counted.rows) == counted.total == listed.total, (d.ref, by)
        over = reports.over_time(hub, d.ref, {})
        assert over.total == listed.total


def test_a_patient_sent_abroad_twice_is_one_patient_and_two_referrals(hub, laptops):
    patient = laptops[2]
    sent = reports.counts(hub, "referrals", "to_facility", {"patient_id": patient})
    people = reports.counts(hub, "referred-patients", "to_facility", {"patient_id": patient})
    assert (sent.unit, sent.total, sent.rows) == ("referrals", 2, [{"to_facility": "TN-SAI", "count": 2}])
    assert (people.unit, people.total, people.rows) == ("patients", 1, [{"to_facility": "TN-SAI", "count": 1}])
    assert reports.line_list(hub, "referrals", {"status": "requested"}).total == 2
    assert [row["referred_on"] for row in reports.line_list(hub, "referrals", {}).rows] == [TODAY.isoformat()] * 2


def test_the_soc_trang_outcomes_partition_the_cohort_exactly(hub, laptops):
    counted = reports.counts(hub, "enrolments", "outcome", {"programme": "home-triage", "team": "Vinh Chau"})
    assert counted.total == 1957
    assert {row["outcome"]: row["count"] for row in counted.rows} == {**SOC_TRANG, reports.NOT_RECORDED: 40}
    laptop = laptops[0].read(lambda conn: registry.counts(registry.line_list(conn, "home-triage"), "outcome",
                                                          unit="enrolments"))
    assert {row["outcome"]: row["count"] for row in counted.rows} == laptop["groups"]
    active = reports.line_list(hub, "enrolments", {"programme": "home-triage", "outcome": "not recorded",
                                                   "team": "Vinh Chau"})
    assert active.total == 40 and {row["status"] for row in active.rows} == {"active"}


def test_a_screening_round_counts_people_tested_positive_vaccinated_and_immune(hub, laptops):
    [round_id] = laptops[0].read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM screening_rounds")])
    def by(group: str, **filters: str) -> dict[str, int]:
        counted = reports.counts(hub, "lab-screening", group, {"round_id": round_id, **filters})
        assert counted.unit == "patients"
        return {row[group]: row["count"] for row in counted.rows}
    assert by("positive") == {"yes": 2, "no": 2}
    assert by("vaccinated") == {"yes": 2, "no": 2}
    assert by("immunity") == {"not vaccinated": 2, "immune": 1, "series in progress": 1}
    assert by("positive", test="anti-hbs") == {"no": 1}
    summary = laptops[0].read(lambda conn: screening.round_summary(conn, round_id))  # the laptop's own count
    assert by("positive", test="hbsag") == {"yes": summary["tests"]["hbsag"]["positive"],
                                            "no": summary["tests"]["hbsag"]["negative"]}
    assert reports.line_list(hub, "lab-screening", {"round_id": round_id}).total == summary["tested"] == 4


def test_the_indexed_attribute_columns_are_attributes_the_programmes_define():
    defined = {a.name for p in enrolments.programmes().values() for a in p.attributes}
    assert set(ATTRIBUTE_COLUMNS.values()) <= defined


def test_counts_that_include_a_laptop_not_heard_from_say_so(hub, laptops):
    away = laptops[1]
    everyone = reports.counts(hub, "enrolments", "team", {"programme": "home-triage"})
    assert [device for device, _ in everyone.stale_devices] == [away.device_id]
    assert everyone.stale_devices[0][1] < (TODAY - timedelta(days=AWAY - 1)).isoformat()
    assert reports.counts(hub, "enrolments", "team", {"team": "Vinh Chau"}).stale_devices == []
    assert reports.counts(hub, "enrolments", "team", {"programme": "home-triage"}, stale_days=AWAY + 1
                          ).stale_devices == []


def test_counts_over_time_are_in_calendar_order_with_the_empty_months(hub):
    over = reports.over_time(hub, "enrolments", {"programme": "home-triage"})
    months = [row["month"] for row in over.rows]
    first, last = (TODAY - timedelta(days=AWAY)).strftime("%Y-%m"), TODAY.strftime("%Y-%m")
    assert months[0] == first and months[-1] <= last and months == sorted(months)
    assert len(months) == (int(months[-1][:4]) - int(first[:4])) * 12 + int(months[-1][5:]) - int(first[5:]) + 1
    assert over.total == 1960 and dict(zip(months, [r["count"] for r in over.rows]))[first] == 3
    within = reports.line_list(hub, "enrolments", {"programme": "home-triage", "month": first})
    assert within.total == 3
    days = reports.line_list(hub, "enrolments", {"from": (TODAY - timedelta(days=AWAY)).isoformat(),
                                                 "to": (TODAY - timedelta(days=AWAY)).isoformat()})
    assert days.total == 3


def test_a_line_list_without_a_limit_reads_every_row_page_by_page(hub, monkeypatch):
    monkeypatch.setattr(reports, "PAGE", 700)
    for report_id, unit_total in (("enrolments", 7580), ("enrolled-patients", 7580), ("patients", 7584)):
        listed = reports.line_list(hub, report_id, {})
        rows = list(listed.rows)
        key = reports.definition(report_id).columns[0]
        assert len(rows) == len({row[key] for row in rows}) == listed.total == unit_total, report_id


def test_a_report_refuses_what_it_does_not_take(hub):
    with pytest.raises(FieldkitError, match="no filter “colour”"):
        reports.line_list(hub, "enrolments", {"colour": "red"})
    with pytest.raises(FieldkitError, match="cannot be counted by"):
        reports.counts(hub, "referrals", "destination_country", {})
    with pytest.raises(FieldkitError, match="YYYY-MM"):
        reports.line_list(hub, "enrolments", {"month": "May"})
    with pytest.raises(FieldkitError, match="no report"):
        reports.definition("nothing@1")
    assert reports.definition("enrolments") is reports.DEFINITIONS["enrolments@1"]


# Published definitions never change: a change is a new version (and a new line here).
PUBLISHED = {
    "enrolments@1": "d3ae891f3bcec9dc",
    "enrolled-patients@1": "ad6d2e5f34886a62",
    "patients@1": "c2ba6127034d5dcf",
    "referrals@1": "3712429b5880691b",
    "referred-patients@1": "8b888ed4351a8275",
    "lab-results@1": "15f3e72e902db43f",
    "lab-screening@1": "73185077928f83ca",
    "immunizations@1": "83ed4d1ea410db6e",
}


def test_a_published_definition_never_changes():
    found = {ref: hashlib.sha256(d.fingerprint().encode()).hexdigest()[:16] for ref, d in reports.DEFINITIONS.items()}
    assert found == PUBLISHED
    for d in reports.DEFINITIONS.values():
        assert d.unit in reports.UNITS and set(d.groups) <= set(reports.filters_of(d))


# -- files ---------------------------------------------------------------------------------------

def test_csv_for_excel_and_for_data_tools_name_the_report_and_escape_only_text(hub):
    made = reports.line_list(hub, "enrolments", {"programme": "home-triage", "team": "Vinh Chau"}, limit=2)
    made.rows = [{**made.rows[0], "team": "=HYPERLINK(\"http://x\")", "birth_year": -3}, made.rows[1]]
    excel = report_files.file_bytes(made, "excel").decode("utf-8")
    assert excel.startswith("\ufeffreport,Programme enrolments (enrolments@1)")
    parsed = list(csv.reader(io.StringIO(excel[1:])))
    assert ["parameters", "limit=2; programme=home-triage; team=Vinh Chau"] in parsed
    assert ["generated", made.generated_at] in parsed
    header = parsed.index(list(made.columns))
    first = dict(zip(made.columns, parsed[header + 1]))
    assert first["team"] == "'=HYPERLINK(\"http://x\")" and first["birth_year"] == "-3"  # numbers untouched
    data = report_files.file_bytes(made, "data").decode("utf-8")
    assert data.startswith("# report: Programme enrolments (enrolments@1)\n")
    table = list(csv.reader(io.StringIO(data.split("\n\n", 1)[1])))
    assert dict(zip(table[0], table[1]))["team"] == "=HYPERLINK(\"http://x\")"


MEMORY_PROBE = """
import resource, sys
from fieldkit.hub import report_files, reports
rows = int(sys.argv[1])
d = reports.DEFINITIONS["enrolments@1"]
def lines():
    for n in range(rows):
        yield {"enrolment_id": f"E{n:07d}", "patient_id": f"P{n:07d}", "programme": "oncology-abroad",
               "status": "active", "team": "فريق طرابلس الطبي", "destination_country": "تونس",
               "birth_year": 1950 + n % 60, "attributes": '{"cancer_site":"سرطان الثدي"}'}
made = reports.Report(d, {"programme": "oncology-abroad"}, "2026-01-01T00:00:00Z", d.columns, lines(), rows, [],
                      d.unit)
written = report_files.write_xlsx(made, sys.argv[2])
print(written, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # peak resident memory, KiB
"""


def test_a_100000_row_xlsx_is_written_in_a_fixed_memory_bound_with_arabic_intact(tmp_path):
    """clinical.md G test 6: the peak memory for 100,000 rows is that for 10,000 (constant memory),
    measured in a process of its own; the rows are made as they are written, like a line list's."""
    peaks = {}
    for rows in (10_000, 100_000):
        probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(rows), str(tmp_path / f"{rows}.xlsx")],
                               capture_output=True, text=True, timeout=300)
        assert probe.returncode == 0, probe.stderr
        written, peaks[rows] = map(int, probe.stdout.split())
        assert written == rows
    assert peaks[100_000] < peaks[10_000] + 4096, peaks  # KiB: the same, give or take the allocator
    sheet = CalamineWorkbook.from_path(str(tmp_path / "100000.xlsx")).get_sheet_by_index(0).to_python()
    assert sheet[0][1] == "Programme enrolments (enrolments@1)" and sheet[2][1] == "programme=oncology-abroad"
    header = sheet.index(list(reports.DEFINITIONS["enrolments@1"].columns))
    assert len(sheet) - header - 1 == 100_000
    last = dict(zip(sheet[header], sheet[-1]))
    assert last["team"] == "فريق طرابلس الطبي" and last["destination_country"] == "تونس"
    assert last["enrolment_id"] == "E0099999" and last["birth_year"] == 1950 + 99_999 % 60
    assert last["attributes"] == '{"cancer_site":"سرطان الثدي"}'


# -- the routes, for a supervisor on an enrolled laptop --------------------------------------------

async def _get(laptop, hub, path: str, user: str | None, *, certificate: bool = True) -> tuple[int, bytes, str]:
    connector = aiohttp.TCPConnector(ssl=laptop.member.context(server=False) if certificate else False)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(hub.url + path, headers={"X-Fieldkit-User": user} if user else {}) as response:
            return response.status, await response.read(), response.content_type


async def test_the_routes_serve_a_supervisor_and_refuse_a_clerk_and_a_caller_without_a_certificate(tmp_path):
    [founder] = await asyncio.to_thread(network, tmp_path, 1)
    clerk = await asyncio.to_thread(add_user, founder.home, founder.store, by=founder.user.name,
                                    by_passphrase=PASSPHRASE, name="omar", role="clerk", passphrase=PASSPHRASE,
                                    kdf={"memory_kib": 1024, "iterations": 1, "lanes": 1})
    await asyncio.to_thread(founder.store.write, lambda tx: [enrolments.enrol(tx, founder.user, {
        "patient_id": registered(tx, "Lan", by=founder.user), "programme": "home-triage", "team": team})
        for team in ("Tra Vinh", "=1+1")])
    enrol_hub(tmp_path / "hub", founder)
    mapping = await asyncio.to_thread(Path(reports.dhis2.SHIPPED).read_text)
    await asyncio.to_thread((tmp_path / "hub" / "dhis2.toml").write_text, mapping.replace(
        "\n[org_units]\n", f'\n[org_units]\n"{founder.device}" = "OU_TRA_VINH"\n'))
    with database("sqlite", tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url, key=HUB_KEY.hex(), refresh_seconds=0) as hub:
            await push(founder.store, founder.member, hub.url)
            supervisor = founder.user.id
            for _ in range(400):  # the refresh runs in the background after the upload
                status, body, _kind = await _get(founder, hub, "/v1/reports/enrolments?by=team", supervisor)
                if status == 200 and json.loads(body)["total"] == 2:
                    break
                await asyncio.sleep(0.05)
            counted = json.loads(body)
            assert counted["rows"] == [{"team": "=1+1", "count": 1}, {"team": "Tra Vinh", "count": 1}]
            assert counted["unit"] == "enrolments"
            assert counted["report"] == "enrolments@1" and counted["stale_devices"] == []
            status, body, _kind = await _get(founder, hub, "/v1/reports", supervisor)
            assert status == 200 and "lab-screening@1" in {d["ref"] for d in json.loads(body)}
            status, body, kind = await _get(founder, hub, "/v1/reports/enrolments?format=csv", supervisor)
            assert status == 200 and kind == "text/csv" and body.startswith("\ufeff".encode())
            assert b"'=1+1" in body
            status, body, _kind = await _get(founder, hub, "/v1/reports/enrolments?format=csv&csv=data", supervisor)
            assert body.startswith(b"# report") and b"\n=1+1," not in body and b"=1+1" in body
            status, body, _kind = await _get(founder, hub, "/v1/reports/enrolled-patients?format=xlsx", supervisor)
            (tmp_path / "got.xlsx").write_bytes(body)
            sheet = CalamineWorkbook.from_path(str(tmp_path / "got.xlsx")).get_sheet_by_index(0).to_python()
            assert sheet[0][1] == "Patients in programmes (enrolled-patients@1)" and len(sheet) == 8 + 2
            month = TODAY.strftime("%Y-%m")
            status, body, _kind = await _get(founder, hub, f"/v1/export/dhis2?period={month}", supervisor)
            assert status == 200, body
            assert json.loads(body)["dataValues"] == [{
                "dataElement": "FK_HT_ENROLLED", "period": month.replace("-", ""), "orgUnit": "OU_TRA_VINH",
                "categoryOptionCombo": "default", "value": "2", "storedBy": "fieldkit"}]
            status, body, kind = await _get(founder, hub, "/v1/export/fhir", supervisor)
            assert status == 200 and kind == "application/fhir+json"
            bundle = json.loads(body)
            assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
            assert sum(e["resource"]["resourceType"] == "EpisodeOfCare" for e in bundle["entry"]) == 2
            assert (await _get(founder, hub, "/v1/export/fhir?since=yesterday", supervisor))[0] == 400

            assert (await _get(founder, hub, "/v1/reports/enrolments", clerk.id))[0] == 403
            assert (await _get(founder, hub, "/v1/reports/enrolments", "nobody"))[0] == 403
            assert (await _get(founder, hub, "/v1/export/dhis2?period=2026-01", clerk.id))[0] == 403
            assert (await _get(founder, hub, "/v1/export/fhir", clerk.id))[0] == 403
            assert (await _get(founder, hub, "/v1/reports/enrolments", None))[0] == 401
            assert (await _get(founder, hub, "/v1/reports", supervisor, certificate=False))[0] == 401
            assert (await _get(founder, hub, "/v1/reports/enrolments?colour=red", supervisor))[0] == 400
            assert (await _get(founder, hub, "/v1/reports/enrolments?limit=-1", supervisor))[0] == 400


# -- the commands, on the hub machine --------------------------------------------------------------

def hub_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fieldkit", "hub", *args], capture_output=True, text=True,
                          env={**os.environ, "FIELDKIT_HUB_KEY": HUB_KEY.hex()}, timeout=120)


def test_the_commands_refresh_report_and_export(tmp_path, make_store):
    laptop = make_store()
    laptop.write(lambda tx: [enrolments.enrol(tx, DOCTOR, {
        "patient_id": registered(tx, f"Hanh {n}"), "programme": "home-triage", "team": "Soc Trang"}) for n in range(3)])
    data = tmp_path / "hub"
    storage = open_storage(f"sqlite:///{data / 'hub.db'}")
    upload(storage, laptop)
    storage.close()
    refreshed = hub_command("refresh", "--data", str(data))
    assert refreshed.returncode == 0 and "6 new entries" in refreshed.stdout, refreshed.stderr
    counted = hub_command("report", "enrolments", "--by", "team", "--format", "json", "--data", str(data))
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)["rows"] == [{"team": "Soc Trang", "count": 3}]
    listed = hub_command("report", "enrolments", "--filter", "team=Soc Trang", "--format", "xlsx", "-o",
                         str(tmp_path / "list.xlsx"), "--data", str(data))
    assert listed.returncode == 0, listed.stderr
    assert len(CalamineWorkbook.from_path(str(tmp_path / "list.xlsx")).get_sheet_by_index(0).to_python()) == 8 + 3
    inside = hub_command("report", "enrolments", "--format", "csv", "-o", str(data / "list.csv"), "--data", str(data))
    assert inside.returncode == 1 and "never into the hub's data directory" in inside.stderr
    assert not (data / "list.csv").exists()
    mapping = Path(reports.dhis2.SHIPPED).read_text().replace('default_org_unit = ""', 'default_org_unit = "OU_ST"')
    (tmp_path / "mapping.toml").write_text(mapping)
    exported = hub_command("dhis2", "--period", TODAY.strftime("%Y-%m"), "--format", "csv", "--mapping",
                           str(tmp_path / "mapping.toml"), "-o", str(tmp_path / "dhis2.csv"), "--data", str(data))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader((tmp_path / "dhis2.csv").open()))
    assert rows[0] == list(reports.dhis2.CSV_COLUMNS)
    assert rows[1][:6] == ["FK_HT_ENROLLED", TODAY.strftime("%Y%m"), "OU_ST", "default", "", "3"]
    wrong = hub_command("report", "enrolments", "--by", "colour", "--data", str(data))
    assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1
