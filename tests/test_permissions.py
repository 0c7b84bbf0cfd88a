"""One permission table holds the layers together: what the services let a role do is exactly what
a receiving laptop (sync.verify) accepts from that role, and no other module keeps a list of roles."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import click
import pytest

import fieldkit
from fieldkit.cli import cli
from fieldkit.permissions import ACTIONS, ROLES, NotAllowed, roles_for
from fieldkit.records import enrolments, immunizations, lab_import, labs, referral_services, screening, services
from fieldkit.store.db import Change
from fieldkit.store.keystore import User
from fieldkit.sync.verify import roles_allowed

SUPERVISOR = User("sup", "amina", "supervisor")
VITALS = {"pulse": 88, "temperature_c": 37.2}


@pytest.fixture
def clinic(make_store):
    """A patient with an encounter, a referral and a follow-up, and a safety conflict on her
    birth date between two laptops; what each use case below acts on."""
    here, there = make_store(device=1), make_store(device=2)
    pid = here.write(lambda tx: services.register(tx, SUPERVISOR, {"given_name": "Lan", "sex": "female",
                                                                  "birth_date": "1990-01-01"})).patient_id
    other = here.write(lambda tx: services.register(tx, SUPERVISOR, {"given_name": "Lan", "family_name": "B"})).patient_id
    recorded = here.write(lambda tx: services.record_encounter(tx, SUPERVISOR, {
        "patient_id": pid, "vitals": VITALS, "referral": {"to_facility": "Soc Trang hospital"},
        "follow_up": {"due": "2030-01-01"}}))
    there.ingest(here.entries_after({}, 10**6))
    here.write(lambda tx: services.edit(tx, SUPERVISOR, pid, {"birth_date": "1991-01-01"}))
    there.write(lambda tx: services.edit(tx, SUPERVISOR, pid, {"birth_date": "1992-01-01"}))
    here.ingest(there.entries_after(here.version_vector(), 10**6))
    tasks = here.read(lambda conn: {
        table: conn.execute(f"SELECT id FROM {table} WHERE patient_id = ?", (pid,)).fetchone()[0]
        for table in ("referrals", "followups")})
    [conflict] = here.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM conflicts")])
    enrolment = here.write(lambda tx: enrolments.enrol(tx, SUPERVISOR, {"patient_id": pid, "programme": "home-triage"}))
    board = here.write(lambda tx: referral_services.refer(tx, SUPERVISOR, {
        "patient_id": pid, "to_facility": "TN-SAI", "needs_approval": True, "reason": "oncology abroad"}))
    return here, {"patient": pid, "other": other, "encounter": recorded.encounter_id, "conflict": conflict,
                  "board": board, "enrolment": enrolment, **tasks}


# Each action of the table, as the use case that performs it.
USE_CASES = {
    "register": lambda tx, user, ids: services.register(tx, user, {"given_name": "Minh"}),
    "edit patient": lambda tx, user, ids: services.edit(tx, user, ids["patient"], {"locality": "Vinh Chau"}),
    "void patient": lambda tx, user, ids: services.void(tx, user, ids["other"], "registered by mistake"),
    "merge patients": lambda tx, user, ids: services.merge(tx, user, ids["other"], ids["patient"]),
    "resolve conflict": lambda tx, user, ids: services.resolve_conflict(tx, user, ids["conflict"], "1991-01-01",
                                                                        "her identity card"),
    "record encounter": lambda tx, user, ids: services.record_encounter(tx, user, {
        "patient_id": ids["patient"], "vitals": VITALS, "referral": {"to_facility": "Can Tho"},
        "follow_up": {"due": "2030-02-01"}}),
    "amend encounter": lambda tx, user, ids: services.amend(tx, user, ids["encounter"], "pulse was 98"),
    "update task": lambda tx, user, ids: services.set_followup_status(tx, user, ids["followups"], "done"),
    "refer": lambda tx, user, ids: referral_services.refer(tx, user, {
        "patient_id": ids["patient"], "to_facility": "VN-ST-GH", "reason": "SpO2 falling"}),
    "record referral events": lambda tx, user, ids: referral_services.record_event(tx, user, ids["referrals"],
                                                                                 {"type": "sent"}),
    "enrol in a programme": lambda tx, user, ids: enrolments.enrol(tx, user, {
        "patient_id": ids["other"], "programme": "home-triage"}),
    "record check-ins": lambda tx, user, ids: enrolments.check_in(tx, user, {
        "enrolment_id": ids["enrolment"], "day": date.today().isoformat(), "spo2": 95}),
    "record a board's decision": lambda tx, user, ids: referral_services.record_event(tx, user, ids["board"], {
        "type": "approved", "board_reference": "NCB-2026-118"}),
    "record vaccinations": lambda tx, user, ids: immunizations.give(tx, user, {
        "patient_id": ids["patient"], "vaccine": "hepb-adult", "lot": "HB-2291"}),
    "plan screening rounds": lambda tx, user, ids: screening.create_round(tx, user, {
        "name": "Staff 2027", "starts": "2027-01-01", "tests": ["hbsag"]}),
    "record lab results": lambda tx, user, ids: labs.record(tx, user, {
        "patient_id": ids["patient"], "test": "hbsag", "value": "positive"}),  # and the follow-up it raises
    "import lab results": lambda tx, user, ids: import_lab_file(tx, user),
}


def import_lab_file(tx, user):
    """A lab's one-row file whose staff id nobody has: an import, and its row in quarantine."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lab.csv"
        path.write_text("Sample ID,Staff ID,Date of birth,Test,Result,Collected\r\n"
                        "P-1,HMS-00404,01/01/1990,HBsAg,Negative,01/01/2026\r\n", encoding="utf-8")
        return lab_import.commit(tx, user, lab_import.check(path, "homs-phl", tx))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(USE_CASES))
def test_a_service_allows_a_role_exactly_what_a_receiving_laptop_accepts(clinic, action, role):
    store, ids = clinic
    user = User(f"{role}-1", role, role)
    before = store.version_vector()
    try:
        store.write(lambda tx: USE_CASES[action](tx, user, ids))
    except NotAllowed:
        assert role not in roles_for(action)
        assert store.version_vector() == before
        return
    assert role in roles_for(action)
    written = store.entries_after(before, 100)
    assert written
    for entry in written:
        assert role in roles_allowed(entry), f"a peer would refuse the {entry.op} {entry.entity} a {role} just saved"


def test_every_action_of_the_table_is_exercised_or_writes_nothing():
    writing = {action for action, rule in ACTIONS.items() if not isinstance(rule, frozenset)}
    assert writing - set(USE_CASES) == {"manage users", "revoke users", "enrol laptops"}  # tests of their own


def test_a_write_no_fieldkit_makes_is_refused_by_a_peer():
    from fieldkit.store.journal import make_entry
    from fieldkit.sync.verify import Refused

    entry = make_entry(origin="a" * 32, seq=1, prev="0" * 64, hlc=1, entity="patient", entity_id="p", op="delete",
                       author="u", payload={})
    with pytest.raises(Refused, match="no fieldkit makes delete patient"):
        roles_allowed(entry)
    assert Change  # (the services' own writes are the ones above)


def test_roles_are_listed_in_one_place():
    """The keystore, the command line and the screens offer the table's roles; no other module
    spells out a set of them."""
    from fieldkit.store import keystore

    assert keystore.ROLES is ROLES
    add = cli.commands["user"].commands["add"]  # type: ignore[attr-defined]
    [role] = [p for p in add.params if p.name == "role"]
    assert isinstance(role.type, click.Choice) and tuple(role.type.choices) == ROLES
    names = "|".join(ROLES)
    for path in Path(fieldkit.__file__).parent.rglob("*.py"):
        if path.name in ("permissions.py", "words.py"):  # the table, and the roles' names in each language
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = set(re.findall(rf'"({names})"', line))
            assert len(found) < 2, f"{path.name}:{number} lists roles of its own: {line.strip()}"


@pytest.mark.parametrize("language", ["ar", "fa", "vi", "fr"])
def test_a_refusal_is_said_in_the_readers_language(language):
    from fieldkit.i18n import set_language
    from fieldkit.permissions import Write, require, require_write

    set_language(language)
    try:
        refusals = []
        for refuse in (lambda: require("clerk", "record encounter"),
                       lambda: require_write("clinician", Write("patient", "update", ("merged_into",)))):
            with pytest.raises(NotAllowed) as refused:
                refuse()
            refusals.append(str(refused.value))
    finally:
        set_language("en")
    for said in refusals:  # no English word of the code's left in it
        assert not re.search(r"\b(may|not|clerk|clinician|record|encounter|update|patient|records)\b", said), said
