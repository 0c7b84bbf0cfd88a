"""Referring and following a referral, as journal changes: refer, record an event, settle a dispute.

Like services.py, each is a function of one write transaction and the signed-in user. An event is
checked against the transition table before it is appended (the fold replays the same table), and
records the last event its author saw, which is how the fold tells a later event from a
concurrent one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.permissions import Write, require_write
from fieldkit.records.ids import new_id
from fieldkit.records.referrals import EventDetails, ReferralRequest, here, request_fields
from fieldkit.records.services import _current, validated
from fieldkit.store.db import Change, Transaction
from fieldkit.store.journal import parse
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import next_status

FOLLOW_UP_AFTER_FEEDBACK = 7  # days, when the specialist names no date


def _encounter(conn: Any, patient_id: str, encounter_id: str | None) -> dict[str, Any] | None:
    """What an encounter recorded: the one named, or the patient's latest."""
    sql = ("SELECT e.patient_id, j.data FROM encounters e JOIN journal j ON j.origin = e.origin AND j.seq = e.seq "
           + ("WHERE e.id = ?" if encounter_id else "WHERE e.patient_id = ? ORDER BY e.recorded DESC LIMIT 1"))
    row = conn.execute(sql, (encounter_id or patient_id,)).fetchone()
    if encounter_id and (row is None or row[0] != patient_id):
        raise FieldkitError(_("no encounter with id {id}").format(id=encounter_id))
    return parse(row[1]) if row else None


def refer(tx: Transaction, user: User, request: ReferralRequest | dict[str, Any], *, on: date | None = None) -> str:
    """Send a patient on (or ask a specialist's opinion); returns the referral's id. `on`: the
    day it was made, when it is written up later (its expected arrival counts from then)."""
    require_write(user.role, Write("referral", "create"))
    request = request if isinstance(request, ReferralRequest) else validated(ReferralRequest, request)
    patient = _current(tx, request.patient_id)
    if patient.get("merged_into") or patient.get("voided"):
        raise FieldkitError(_("this patient record is merged or voided; refer from the record that stays"))
    referral_id = new_id()
    fields = request_fields(request, patient, _encounter(tx, request.patient_id, request.encounter_id),
                            referral_id=referral_id, from_facility=here(tx), on=on or date.today())
    tx.append([Change("referral", referral_id, "create", {"fields": fields})], user=user.id)
    return referral_id


def _standing(tx: Transaction, referral_id: str) -> tuple[dict[str, Any], str]:
    """The referral's row and the version of the latest event that moved it."""
    cursor = tx.execute("SELECT * FROM referrals WHERE id = ?", (referral_id,))
    row = cursor.fetchone()
    if row is None:
        raise FieldkitError(_("no referral with id {id}").format(id=referral_id))
    latest = tx.execute("SELECT ver FROM referral_events WHERE referral_id = ? AND applied = 1 ORDER BY ver DESC LIMIT 1",
                        (referral_id,)).fetchone()
    return dict(zip([c[0] for c in cursor.description], row)), latest[0] if latest else ""


def record_event(tx: Transaction, user: User, referral_id: str, details: EventDetails | dict[str, Any]) -> str | None:
    """Append one event; feedback also books the follow-up at the referring unit, and an
    e-consultation answered "come in person" or a redirection starts the next referral. Returns
    the id of a referral so started."""
    details = details if isinstance(details, EventDetails) else validated(EventDetails, details)
    require_write(user.role, Write("referral_event", details.type))
    referral, after = _standing(tx, referral_id)
    if next_status(referral["status"], details.type) is None:
        raise FieldkitError(_("a referral that is {status} cannot be marked {event}").format(
            status=_(referral["status"].replace("_", " ")), event=_(details.type.replace("_", " "))))
    fields = details.to_fields()
    fields.setdefault("facility", here(tx))
    changes = [Change("referral_event", referral_id, details.type, {"after": after, **fields})]
    started = None
    if details.type == "feedback":
        due = details.follow_up or date.today() + timedelta(days=FOLLOW_UP_AFTER_FEEDBACK)
        changes.append(Change("followup", new_id(), "create", {"fields": {
            "patient_id": referral["patient_id"], "encounter_id": referral["encounter_id"], "referral_id": referral_id,
            "due": due.isoformat(), "status": "open",
            "reason": _("Specialist feedback: {advice}").format(advice=details.recommendations or details.findings)}}))
    next_to = details.redirected_to if details.type == "redirected" else (
        referral["to_facility"] if details.type == "feedback" and details.travel and referral["kind"] == "econsult" else "")
    if next_to:
        request = ReferralRequest.model_validate({
            "patient_id": referral["patient_id"], "encounter_id": referral["encounter_id"], "to_facility": next_to,
            "to_service": referral["to_service"], "urgency": referral["urgency"] or "routine",
            "reason": referral["reason"], "reason_code": referral["reason_code"], "follows": referral_id})
        started = new_id()
        fields_next = request_fields(request, {}, None, referral_id=started, from_facility=referral["from_facility"] or "",
                                     on=date.today())
        fields_next["snapshot"] = parse(referral["snapshot"]) if referral["snapshot"] else {}
        changes.append(Change("referral", started, "create", {"fields": fields_next}))
    tx.append(changes, user=user.id)
    return started


def resolve(tx: Transaction, user: User, conflict_id: str, chosen_event: str, reason: str) -> None:
    """A supervisor names which of two contradicting events stands; both stay in the record."""
    require_write(user.role, Write("referral_event", "resolve", resolves=True))
    if not reason.strip():
        raise FieldkitError(_("resolving a conflict needs a reason"))
    row = tx.execute("SELECT entity_id, candidates FROM conflicts WHERE id = ? AND entity = 'referral'",
                     (conflict_id,)).fetchone()
    if row is None:
        raise FieldkitError(_("no open conflict with id {id}").format(id=conflict_id))
    if chosen_event not in {side["event"] for side in parse(row[1])}:
        raise FieldkitError(_("choose one of the conflicting events"))
    tx.append([Change("referral_event", row[0], "resolve",
                      {"chosen": chosen_event, "resolves": [conflict_id], "reason": reason.strip()})], user=user.id)
