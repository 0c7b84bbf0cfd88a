"""A programme's line list and its counts, and the referral counts, as a programme manager reads them.

Every count says what it counts (`unit`: patients, enrolments or referrals): a patient sent abroad
twice is one patient and two referrals, and a report that does not say which is how two offices
end up quoting different totals. Groups partition their total: each row falls in exactly one
group (a blank value is its own group, "not recorded"), so the groups always add up to the
line list's length. CSV is written for spreadsheets: UTF-8 with a BOM (Excel otherwise reads
Arabic as mojibake) and cells that begin like a formula escaped.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.records import facilities
from fieldkit.records.enrolments import programme as programme_named
from fieldkit.records.names import NAME_FIELDS, full_name

NOT_RECORDED = "not recorded"
ENROLMENT_COLUMNS = ("enrolment_id", "patient_id", "name", "sex", "birth_date", "programme", "enrolled_on", "status",
                     "outcome", "outcome_date", "team")
REFERRAL_COLUMNS = ("referral_id", "number", "patient_id", "name", "kind", "from_facility", "to_facility",
                    "urgency", "status", "expected_by", "created")
_PATIENT = ", ".join(f"p.{name}" for name in NAME_FIELDS)


def line_list(conn: Any, programme_id: str, *, where: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every enrolment of a programme (cancelled ones too: a filter, not a hidden row), with the
    patient's name and the programme's attributes as columns; `where` keeps rows whose status,
    outcome, team or attribute equals the value given."""
    chosen = programme_named(programme_id)
    rows = []
    for enrolment_id, patient_id, sex, birth, enrolled_on, status, outcome, outcome_date, team, attributes, *names in (
            conn.execute(f"SELECT e.id, e.patient_id, p.sex, p.birth_date, e.enrolled_on, e.status, e.outcome, "
                         f"e.outcome_date, e.team, e.attributes, {_PATIENT} FROM enrolments e LEFT JOIN patients p "
                         "ON p.id = e.patient_id WHERE e.programme = ? AND e.voided IS NOT 1 ORDER BY e.enrolled_on, e.id",
                         (chosen.id,))):
        row = {"enrolment_id": enrolment_id, "patient_id": patient_id, "name": full_name(dict(zip(NAME_FIELDS, names))),
               "sex": sex or "unknown", "birth_date": birth or "", "programme": chosen.id, "enrolled_on": enrolled_on,
               "status": status, "outcome": outcome or "", "outcome_date": outcome_date or "", "team": team or ""}
        values = json.loads(attributes) if attributes else {}
        row |= {attribute.name: values.get(attribute.name, "") for attribute in chosen.attributes}
        rows.append(row)
    for name, wanted in (where or {}).items():
        if rows and name not in rows[0]:
            raise FieldkitError(_("no column “{name}” to filter on (one of: {columns})").format(
                name=name, columns=", ".join(rows[0])))
        rows = [row for row in rows if str(row.get(name, "")).casefold() == wanted.casefold()]
    return rows


def counts(rows: list[dict[str, Any]], by: str, *, unit: str) -> dict[str, Any]:
    """Rows counted by one column. `unit` "patients" counts each patient once in the group of
    their latest row; "enrolments" and "referrals" count rows."""
    if rows and by not in rows[0]:
        raise FieldkitError(_("no column “{name}” to group by (one of: {columns})").format(
            name=by, columns=", ".join(rows[0])))
    if unit == "patients":
        rows = per_patient(rows)
    groups = Counter(str(row.get(by) or NOT_RECORDED) for row in rows)
    return {"unit": unit, "by": by, "total": len(rows), "groups": dict(sorted(groups.items(), key=lambda g: (-g[1], g[0])))}


def per_patient(rows: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Each patient once, in their latest row: rows come oldest first, so the last one seen."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        latest[row["patient_id"]] = row
    return list(latest.values())


def referral_rows(conn: Any, *, where: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for row in conn.execute(
            f"SELECT r.id, r.number, r.patient_id, r.kind, r.from_facility, r.to_facility, r.urgency, r.status, "
            f"r.expected_by, r.created, {_PATIENT} FROM referrals r LEFT JOIN patients p ON p.id = r.patient_id "
            "WHERE r.voided IS NOT 1 ORDER BY r.created"):
        (referral_id, number, patient_id, kind, from_facility, to_facility, urgency, status, expected, created,
         *names) = row
        rows.append({"referral_id": referral_id, "number": number or "", "patient_id": patient_id,
                     "name": full_name(dict(zip(NAME_FIELDS, names))), "kind": kind or "referral",
                     "from_facility": facilities.name_of(from_facility), "to_facility": facilities.name_of(to_facility),
                     "urgency": urgency, "status": status, "expected_by": expected or "", "created": created})
    for name, wanted in (where or {}).items():
        rows = [row for row in rows if str(row.get(name, "")).casefold() == wanted.casefold()]
    return rows


def report(rows: list[dict[str, Any]], *, title: str, by: str | None, unit: str, parameters: Mapping[str, Any],
           on: date) -> dict[str, Any]:
    """A list with what it is: its title, parameters, the day it was made, what it counts."""
    made = {"report": title, "generated": on.isoformat(), "parameters": dict(parameters), "rows": rows}
    if by:
        made["counts"] = counts(rows, by, unit=unit)
    return made


def safe_cell(value: Any) -> str:
    """A cell's text for a spreadsheet. Text starting with = + - @ (or a tab or CR) would run as a
    formula (CSV injection), so it is escaped; a number is written as it is (a negative one too)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = list(columns)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(column)) for column in columns])
    return "\ufeff" + out.getvalue()


def columns_of(rows: list[dict[str, Any]], default: tuple[str, ...]) -> list[str]:
    return list(rows[0]) if rows else list(default)
