"""The reporting tables: rows derived from the replica's folded tables and copied into the hub's
storage, where reports read them (hub/reports.py) on SQLite or PostgreSQL alike.

Every value is read from the fold the laptops run (the replica, hub/replica.py), and every rule
that turns folded rows into report values is the laptops' own: a referral's status from its
events (store/lifecycle.py), the day it was made from its expected arrival (records/referrals.py),
a result's positivity from its interpretation (records/lab_codes.py), a person's immunity from
their doses and anti-HBs results (records/immunity.py). So a count on the hub is what a laptop
holding the same entries counts.

Copies are incremental. Receiving a batch into the replica marks, in the same transaction, each
record its entries touched (`report_dirty`); a copy derives those rows, writes them to the hub's
storage in one transaction, then clears the marks it copied. A copy cut anywhere leaves marks
behind, and the next one copies them again (writing a row twice is harmless). Marks, not the
`updated` version, say what moved: a laptop back after a week offline delivers old writes, whose
versions are below any "copied up to" line. The fold deletes no row, except when it folds the whole
journal again (a revocation that holds back entries folded earlier, or a rebuild): a batch that may
do so marks every record before and after it, and a marked record the fold left out (its entries
held back) is deleted from the reporting tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from fieldkit.hub.storage import HubStorage
from fieldkit.records import immunity, lab_codes
from fieldkit.records.queries import when
from fieldkit.records.referrals import EXPECTED_DAYS
from fieldkit.store.db import Store, Transaction
from fieldkit.store.holdback import SETTING
from fieldkit.store.journal import Entry, canonical, parse

DIRTY = ("CREATE TABLE IF NOT EXISTS report_dirty (entity TEXT NOT NULL, id TEXT NOT NULL, mark INTEGER NOT NULL, "
         "PRIMARY KEY (entity, id)) STRICT, WITHOUT ROWID")
CHUNK = 500  # records derived per query, and marks copied per storage transaction

# The programme attributes reports group by often enough to keep as indexed columns of their own,
# by the names the programme definitions give them (records/programme_data/oncology-abroad.toml).
ATTRIBUTE_COLUMNS = {"destination": "destination_country", "branch": "branch_office"}
# Which reporting table each journal entity feeds (a referral's events feed its referral's row).
FEEDS = {"patient": "patient", "enrolment": "enrolment", "referral": "referral", "referral_event": "referral",
         "lab_result": "lab_result", "immunization": "immunization"}
POSITIVE = lab_codes.ANSWER_INTERPRETATION["positive"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "report_patients": ("id", "sex", "birth_year", "locality", "registered_on", "state", "merged_into", "immunity",
                        "vaccinated", "device", "updated", "entries"),
    "report_enrolments": ("id", "patient_id", "programme", "programme_version", "status", "outcome", "enrolled_on",
                          "outcome_date", "team", "attributes", *ATTRIBUTE_COLUMNS, "voided", "device", "updated",
                          "entries"),
    "report_referrals": ("id", "patient_id", "number", "kind", "from_facility", "to_facility", "service", "urgency",
                         "status", "referred_on", "expected_by", "days_to_arrival", "days_to_feedback", "voided",
                         "device", "updated", "entries"),
    "report_lab_results": ("id", "patient_id", "round_id", "test", "loinc", "value", "unit", "coded",
                           "interpretation", "positive", "status", "collected", "voided", "device", "updated",
                           "entries"),
    "report_immunizations": ("id", "patient_id", "vaccine", "series", "dose_number", "status", "occurred", "device",
                             "updated", "entries"),
}
Tables = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


# -- marking, in the replica's receiving transaction ----------------------------------------------

SOURCES = {"patient": "patients", "enrolment": "enrolments", "referral": "referrals", "lab_result": "lab_results",
           "immunization": "immunizations"}


def prepare(store: Store) -> None:
    """The replica's bookkeeping: which records are still to copy."""
    store.write(lambda tx: tx.execute(DIRTY))


def refolds(entries: Iterable[Entry]) -> bool:
    """Might folding these entries fold the whole journal again (store/fold.py `apply`)?"""
    return any((e.entity, e.op) in SETTING for e in entries)


def everything(tx: Transaction) -> set[tuple[str, str]]:
    """Every record the reporting tables are derived from, as marks."""
    return {(entity, row[0]) for entity, table in SOURCES.items() for row in tx.execute(f"SELECT id FROM {table}")}


def mark(tx: Transaction, entries: Iterable[Entry], also: Iterable[tuple[str, str]] = ()) -> None:
    """Mark the records these entries touch (and `also` these), in the transaction that folds them."""
    touched = {(FEEDS[e.entity], e.entity_id) for e in entries if e.entity in FEEDS} | set(also)
    # One number per transaction, higher than any before, ever: a copy clears only the marks it read.
    tx.execute("INSERT INTO meta VALUES ('report_mark', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1")
    number = tx.execute("SELECT value FROM meta WHERE key = 'report_mark'").fetchone()[0]
    tx.executemany("INSERT OR REPLACE INTO report_dirty VALUES (?, ?, ?)", [(*key, number) for key in sorted(touched)])


# -- copying --------------------------------------------------------------------------------------

def copy(storage: HubStorage, store: Store) -> int:
    """Bring the reporting tables up to the replica; returns the rows written or deleted."""
    written = 0
    while True:
        marks, tables, gone = store.read(_marked)
        if not marks:
            return written
        storage.write_reports(tables, gone)
        store.write(_cleared(marks))
        written += sum(len(rows) for _columns, rows in tables.values()) + sum(map(len, gone.values()))


def _cleared(marks: list[tuple[str, str, int]]) -> Callable[[Transaction], None]:
    """Clear the marks copied, unless a later batch marked the record again meanwhile."""
    return lambda tx: tx.executemany("DELETE FROM report_dirty WHERE entity = ? AND id = ? AND mark = ?", marks)


def _marked(conn: Any) -> tuple[list[tuple[str, str, int]], Tables, dict[str, list[str]]]:
    """Some marks, the rows they ask for, and the records the fold left out, in one snapshot."""
    marks = conn.execute("SELECT entity, id, mark FROM report_dirty LIMIT ?", (CHUNK,)).fetchall()
    wanted: dict[str, set[str]] = {}
    for entity, entity_id, _mark in marks:
        wanted.setdefault(entity, set()).add(entity_id)
    tables = derive(conn, wanted)
    gone = {}
    for entity, ids in wanted.items():
        table = f"report_{SOURCES[entity]}"
        held = {row[0] for row in tables[table][1]}
        # Left out although the journal has its entries: every one of them is held back.
        gone[table] = [i for i in sorted(ids - held) if conn.execute(
            "SELECT 1 FROM journal WHERE entity_id = ? LIMIT 1", (i,)).fetchone()]
    return marks, tables, {table: ids for table, ids in gone.items() if ids}


# -- deriving rows from the folded tables ---------------------------------------------------------

def derive(conn: Any, wanted: dict[str, set[str]]) -> Tables:
    """The reporting rows of the records `wanted` ({entity: ids}) the replica holds."""
    def pick(entity: str) -> list[str]:
        return sorted(wanted.get(entity, ()))

    results = _rows(conn, "lab_results", ("id", "patient_id", "round_id", "test", "loinc", "value", "unit", "coded",
                                          "interpretation", "status", "collected", "voided", "created", "updated"),
                    pick("lab_result"))
    doses = _rows(conn, "immunizations", ("id", "patient_id", "vaccine", "series", "dose_number", "status", "occurred",
                                          "created", "updated"), pick("immunization"))
    # A person's immunity moves with their results and doses.
    people = sorted({*pick("patient"), *(r["patient_id"] for r in results if r["patient_id"]),
                     *(d["patient_id"] for d in doses if d["patient_id"])})
    patients = _rows(conn, "patients", ("id", "sex", "birth_date", "locality", "merged_into", "voided", "created",
                                        "updated"), people)
    enrolments = _rows(conn, "enrolments", ("id", "patient_id", "programme", "programme_version", "status", "outcome",
                                            "enrolled_on", "outcome_date", "team", "attributes", "voided", "created",
                                            "updated"), pick("enrolment"))
    referrals = _rows(conn, "referrals", ("id", "patient_id", "number", "kind", "from_facility", "to_facility",
                                          "to_service", "urgency", "status", "expected_by", "voided", "created",
                                          "updated"), pick("referral"))
    entries = _entries(conn, [r["id"] for r in [*results, *doses, *patients, *enrolments, *referrals]])
    return {
        "report_patients": (COLUMNS["report_patients"], _patients(conn, patients, entries)),
        "report_enrolments": (COLUMNS["report_enrolments"], [_enrolment(e, entries) for e in enrolments]),
        "report_referrals": (COLUMNS["report_referrals"], _referrals(conn, referrals, entries)),
        "report_lab_results": (COLUMNS["report_lab_results"], [_result(r, entries) for r in results]),
        "report_immunizations": (COLUMNS["report_immunizations"], [_dose(d, entries) for d in doses]),
    }


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _rows(conn: Any, table: str, columns: tuple[str, ...], ids: Sequence[str]) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    found = []
    for chunk in _chunks(ids):
        found += [dict(zip(columns, row)) for row in
                  conn.execute(f"{sql} WHERE id IN ({', '.join('?' * len(chunk))})", list(chunk))]
    return found


def _entries(conn: Any, ids: list[str]) -> dict[str, int]:
    """How many journal entries each record was folded from (a referral's events are entries of it;
    held entries count too, so a revocation's refold never lowers the count)."""
    counts: dict[str, int] = {}
    for chunk in _chunks(sorted(set(ids))):
        counts.update(conn.execute(f"SELECT entity_id, count(*) FROM journal WHERE entity_id IN "
                                   f"({', '.join('?' * len(chunk))}) GROUP BY entity_id", list(chunk)))
    return counts


def _origin(row: dict[str, Any]) -> str:
    """The laptop that created the record: the origin in its first write's version."""
    return str(row["created"]).split(".", 1)[1]


def _day(ver: str) -> str:
    return when(ver)[:10]


def _flag(value: Any) -> int:
    return 1 if value else 0


def _patients(conn: Any, patients: list[dict[str, Any]], entries: dict[str, int]) -> list[tuple[Any, ...]]:
    ids = [p["id"] for p in patients]
    dosed: set[str] = set()
    related: dict[str, int] = {}  # entries of each person's results and doses: their immunity is read from them
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        for table in ("lab_results", "immunizations"):
            for patient_id, record_id in conn.execute(
                    f"SELECT patient_id, id FROM {table} WHERE patient_id IN ({marks})", list(chunk)):
                related[patient_id] = related.get(patient_id, 0) + entries.get(record_id, 0)
                if table == "immunizations":
                    dosed.add(patient_id)
    rows = []
    for p in patients:
        # Only a person with a dose can be anything but "not vaccinated" (immunity.assess).
        state = immunity.immunity_status(conn, p["id"]).state if p["id"] in dosed else immunity.NOT_VACCINATED
        birth = str(p["birth_date"] or "")
        rows.append((p["id"], p["sex"], int(birth[:4]) if birth[:4].isdigit() else None, p["locality"],
                     _day(p["created"]), "merged" if p["merged_into"] else "voided" if p["voided"] else "active",
                     p["merged_into"], state, "no" if state == immunity.NOT_VACCINATED else "yes", _origin(p),
                     p["updated"], entries.get(p["id"], 0) + related.get(p["id"], 0)))
    return rows


def _enrolment(e: dict[str, Any], entries: dict[str, int]) -> tuple[Any, ...]:
    attributes = parse(e["attributes"]) if e["attributes"] else {}
    return (e["id"], e["patient_id"] or "", e["programme"] or "", e["programme_version"], e["status"], e["outcome"],
            e["enrolled_on"], e["outcome_date"], e["team"], canonical(attributes),
            *(attributes.get(name) for name in ATTRIBUTE_COLUMNS.values()), _flag(e["voided"]), _origin(e),
            e["updated"], entries.get(e["id"], 0))


def referred_on(referral: dict[str, Any]) -> str:
    """The day a referral was made: its expected arrival less the days its urgency allows, which
    is how it was set (a referral written up later names the day it was made); else the day it was
    written."""
    expected, urgency = referral.get("expected_by"), referral.get("urgency")
    if expected and urgency in EXPECTED_DAYS:
        return (date.fromisoformat(str(expected)) - timedelta(days=EXPECTED_DAYS[urgency])).isoformat()
    return _day(referral["created"])


def _referrals(conn: Any, referrals: list[dict[str, Any]], entries: dict[str, int]) -> list[tuple[Any, ...]]:
    reached: dict[tuple[str, str], str] = {}  # (referral, event) -> the day it first happened, of events that moved it
    for chunk in _chunks([r["id"] for r in referrals]):
        for referral_id, kind, ver in conn.execute(
                f"SELECT referral_id, type, ver FROM referral_events WHERE applied = 1 AND type IN ('arrived', 'feedback') "
                f"AND referral_id IN ({', '.join('?' * len(chunk))}) ORDER BY ver", list(chunk)):
            reached.setdefault((referral_id, kind), _day(ver))
    rows = []
    for r in referrals:
        made = date.fromisoformat(referred_on(r))
        after = [(date.fromisoformat(reached[(r["id"], kind)]) - made).days if (r["id"], kind) in reached else None
                 for kind in ("arrived", "feedback")]
        rows.append((r["id"], r["patient_id"] or "", r["number"], r["kind"] or "referral", r["from_facility"],
                     r["to_facility"], r["to_service"], r["urgency"], r["status"], made.isoformat(), r["expected_by"],
                     *after, _flag(r["voided"]), _origin(r), r["updated"], entries.get(r["id"], 0)))
    return rows


def _result(r: dict[str, Any], entries: dict[str, int]) -> tuple[Any, ...]:
    return (r["id"], r["patient_id"] or "", r["round_id"], r["test"], r["loinc"],
            None if r["value"] is None else str(r["value"]), r["unit"], r["coded"], r["interpretation"],
            "yes" if r["interpretation"] == POSITIVE else "no", r["status"],
            None if r["collected"] is None else str(r["collected"])[:10], _flag(r["voided"]), _origin(r), r["updated"],
            entries.get(r["id"], 0))


def _dose(d: dict[str, Any], entries: dict[str, int]) -> tuple[Any, ...]:
    number = d["dose_number"]
    return (d["id"], d["patient_id"] or "", d["vaccine"], d["series"],
            int(number) if isinstance(number, (int, float)) or str(number or "").isdigit() else None, d["status"],
            None if d["occurred"] is None else str(d["occurred"]), _origin(d), d["updated"], entries.get(d["id"], 0))

