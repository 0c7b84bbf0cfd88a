"""Who may write what: one table, read where a change is made (records), where it is received
(sync.verify), where users are kept (store.keystore), and by the command line and the screens.

A journal write is an entity, an operation and the fields it sets; each (entity, operation) has
the roles that may make it, and a few fields narrow that further (only a supervisor voids or
merges a patient), as does settling a conflict. The actions staff know by name ("register",
"merge patients") are these writes, plus one that writes nothing (the day summary).

A leaf module: it imports nothing of fieldkit but its error type and the catalogue. A refusal is
said in the reader's language: the role, the action and the record kind are catalogue words.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _

ROLES = ("clinician", "clerk", "supervisor")  # in the order a chooser offers them
ANYONE = frozenset(ROLES)
CLINICAL = frozenset({"clinician", "supervisor"})  # the clerk keeps demographics, writes no clinical record
SUPERVISOR = frozenset({"supervisor"})

WRITES: dict[tuple[str, str], frozenset[str]] = {
    ("patient", "create"): ANYONE,
    ("patient", "update"): ANYONE,
    ("encounter", "create"): CLINICAL,
    ("encounter", "amend"): CLINICAL,
    ("encounter", "entered_in_error"): CLINICAL,
    ("referral", "create"): CLINICAL,
    ("referral", "update"): CLINICAL,
    ("followup", "create"): CLINICAL,
    ("followup", "update"): CLINICAL,
    # A referral's events. The board's decision and the settling of two contradicting events are
    # a supervisor's; the rest is the work of whoever sees the patient, at either end.
    **{("referral_event", event): CLINICAL for event in (
        "issued", "sent", "acknowledged", "arrived", "feedback", "completed", "cancelled", "redirected",
        "not_attended", "lost")},
    ("referral_event", "approved"): SUPERVISOR,
    ("referral_event", "declined"): SUPERVISOR,
    ("referral_event", "resolve"): SUPERVISOR,
    # Programmes: a branch office's clerk registers patient files into programmes and closes them;
    # check-ins and their review are clinical.
    ("enrolment", "create"): ANYONE,
    ("enrolment", "update"): ANYONE,
    ("checkin", "create"): CLINICAL,
    ("checkin", "review"): CLINICAL,
    # Results and vaccines are clinical; a screening round is a programme's plan, set by a supervisor.
    ("screening_round", "create"): SUPERVISOR,
    ("screening_round", "update"): SUPERVISOR,
    **{(entity, op): CLINICAL for entity in ("lab_import", "lab_result", "quarantined_row", "vaccine_lot",
                                            "immunization") for op in ("create", "update")},
    ("user", "create"): SUPERVISOR,
    ("user", "update"): SUPERVISOR,
    ("user", "revoke"): SUPERVISOR,
    ("device", "revoke"): SUPERVISOR,
    ("device", "release"): SUPERVISOR,
}
ENTITIES = frozenset(entity for entity, _op in WRITES)
FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("patient", "voided"): SUPERVISOR,
    ("patient", "merged_into"): SUPERVISOR,
}
RESOLVING = SUPERVISOR  # a write that settles a conflict between two others


@dataclass(frozen=True)
class Write:
    entity: str
    op: str
    fields: tuple[str, ...] = ()
    resolves: bool = False


def may_write(write: Write) -> frozenset[str]:
    """The roles that may make this write; KeyError for a write no fieldkit makes."""
    roles = WRITES[(write.entity, write.op)]
    for name in write.fields:
        roles &= FIELDS.get((write.entity, name), roles)
    return roles & RESOLVING if write.resolves else roles


# Each write as a refusal names it ("a clerk may not create encounter records"), in the catalogue.
SAID: dict[tuple[str, str], str] = {
    ("patient", "create"): N_("create patient records"), ("patient", "update"): N_("update patient records"),
    ("encounter", "create"): N_("create encounter records"), ("encounter", "amend"): N_("amend encounter records"),
    ("encounter", "entered_in_error"): N_("entered in error encounter records"),
    ("referral", "create"): N_("create referral records"), ("referral", "update"): N_("update referral records"),
    ("followup", "create"): N_("create followup records"), ("followup", "update"): N_("update followup records"),
    ("user", "create"): N_("create user records"), ("user", "update"): N_("update user records"),
    ("user", "revoke"): N_("revoke user records"), ("device", "revoke"): N_("revoke device records"),
    ("device", "release"): N_("release device records"),
    ("referral_event", "approved"): N_("record a board's approval"),
    ("referral_event", "declined"): N_("record a board's refusal"),
    ("referral_event", "resolve"): N_("settle a referral's contradicting events"),
    ("enrolment", "create"): N_("enrol patients in programmes"),
    ("enrolment", "update"): N_("update programme enrolments"),
    ("checkin", "create"): N_("record check-ins"), ("checkin", "review"): N_("review escalations"),
    ("screening_round", "create"): N_("plan screening rounds"),
    ("screening_round", "update"): N_("change screening rounds"),
    ("lab_import", "create"): N_("import lab results"), ("lab_import", "update"): N_("import lab results"),
    ("lab_result", "create"): N_("record lab results"), ("lab_result", "update"): N_("correct lab results"),
    ("quarantined_row", "create"): N_("import lab results"),
    ("quarantined_row", "update"): N_("match quarantined lab rows"),
    ("vaccine_lot", "create"): N_("record vaccine lots"), ("vaccine_lot", "update"): N_("record vaccine lots"),
    ("immunization", "create"): N_("record vaccinations"), ("immunization", "update"): N_("correct vaccinations"),
}
REFERRAL_EVENT_SAID = N_("record referral events")
ACTIONS: dict[str, Write | frozenset[str]] = {
    N_("register"): Write("patient", "create"),
    N_("edit patient"): Write("patient", "update"),
    N_("void patient"): Write("patient", "update", ("voided",)),
    N_("merge patients"): Write("patient", "update", ("merged_into",)),
    N_("resolve conflict"): Write("patient", "update", resolves=True),
    N_("record encounter"): Write("encounter", "create"),
    N_("amend encounter"): Write("encounter", "amend"),
    N_("update task"): Write("followup", "update"),
    N_("refer"): Write("referral", "create"),
    N_("record referral events"): Write("referral_event", "sent"),
    N_("record a board's decision"): Write("referral_event", "approved"),
    N_("enrol in a programme"): Write("enrolment", "create"),
    N_("record check-ins"): Write("checkin", "create"),
    N_("plan screening rounds"): Write("screening_round", "create"),
    N_("import lab results"): Write("lab_import", "create"),
    N_("record lab results"): Write("lab_result", "create"),
    N_("record vaccinations"): Write("immunization", "create"),
    N_("manage users"): Write("user", "create"),
    N_("revoke users"): Write("user", "revoke"),
    N_("enrol laptops"): Write("device", "revoke"),  # who enrols a laptop is who may revoke it
    N_("see the day summary"): SUPERVISOR,
    N_("export records"): SUPERVISOR,  # a whole clinic's records, or one patient's, in a file
}


class NotAllowed(FieldkitError):
    pass


def roles_for(action: str) -> frozenset[str]:
    rule = ACTIONS[action]
    return may_write(rule) if isinstance(rule, Write) else rule


def allowed(role: str, action: str) -> bool:
    return role in roles_for(action)


def require(role: str, action: str) -> None:
    if not allowed(role, action):
        raise NotAllowed(_("a {role} may not {action}").format(role=_(role), action=_(action)))


def require_write(role: str, write: Write) -> None:
    if role not in may_write(write):
        action = SAID.get((write.entity, write.op), REFERRAL_EVENT_SAID)
        raise NotAllowed(_("a {role} may not {action}").format(role=_(role), action=_(action)))
