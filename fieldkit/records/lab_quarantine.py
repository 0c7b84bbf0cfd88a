"""A lab file's rows that matched no patient: kept whole, never made into a patient, until a person
says whose they are (the results are then recorded for that patient) or sets them aside with why."""

from __future__ import annotations

from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.permissions import Write, require_write
from fieldkit.records import lab_codes, labs
from fieldkit.records.services import _update
from fieldkit.store.db import Change, Transaction
from fieldkit.store.journal import parse
from fieldkit.store.keystore import User
from fieldkit.text import clean_text


def quarantined(db: Any, *, import_id: str | None = None, status: str | None = "open") -> list[dict[str, Any]]:
    """Rows waiting for a person to say who they are (or all, with status None), oldest first."""
    where, params = ["voided IS NOT 1"], []
    if import_id:
        where.append("import_id = ?")
        params.append(import_id)
    if status:
        where.append("status = ?")
        params.append(status)
    cursor = db.execute(f"SELECT * FROM quarantined_rows WHERE {' AND '.join(where)} ORDER BY import_id, import_row",
                        params)
    names = [c[0] for c in cursor.description]
    found = [dict(zip(names, row)) for row in cursor.fetchall()]
    for row in found:
        row["data"] = parse(row["data"]) if row["data"] else {}
    return found


def _waiting(tx: Transaction, row_id: str) -> dict[str, Any]:
    found = [row for row in quarantined(tx, status=None) if row["id"] == row_id]
    if not found:
        raise FieldkitError(_("no quarantined row with id {id}").format(id=row_id))
    if found[0]["status"] != "open":
        raise FieldkitError(_("this row is {status} already").format(status=_(found[0]["status"])))
    return found[0]


def match_row(tx: Transaction, user: User, row_id: str, patient_id: str) -> list[str]:
    """A person says whose a quarantined row is: its results are recorded for that patient (a
    sample's result already held is left, or corrected if the value differs). Returns the ids of
    results written."""
    require_write(user.role, Write("quarantined_row", "update"))
    require_write(user.role, Write("lab_result", "create"))
    row = _waiting(tx, row_id)
    labs.recordable(tx, patient_id)
    changes: list[Change] = []
    written = []
    for result in row["data"].get("results", []):
        lab_test = lab_codes.test(result["test"])
        fields = {**result, "patient_id": patient_id, "import_id": row["import_id"]}
        before = labs.existing(tx, result["sample_id"], result["test"]) if result.get("sample_id") else None
        if before is None:
            result_id, made = labs.creation(lab_test, fields)
            changes += made
            written.append(result_id)
        elif not labs.same_reading(before, fields):
            changes += labs.correction(tx, lab_test, before, fields, _("matched from quarantine"))
            written.append(before["id"])
    changes.append(_update(tx, "quarantined_row", row_id, {"status": "matched", "patient_id": patient_id}))
    labs.append(tx, user, changes)
    return written


def discard_row(tx: Transaction, user: User, row_id: str, reason: str) -> None:
    """A quarantined row nobody can be matched to (not our staff, a test sample): set aside, with why."""
    require_write(user.role, Write("quarantined_row", "update"))
    if not clean_text(reason):
        raise FieldkitError(_("say why the row is discarded"))
    _waiting(tx, row_id)
    tx.append([_update(tx, "quarantined_row", row_id, {"status": "discarded"}, reason=clean_text(reason))], user=user.id)
