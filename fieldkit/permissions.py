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


# The writes as a refusal names them ("a clerk may not create encounter records"), for the catalogue.
WRITES_SAID = (N_("create patient records"), N_("update patient records"), N_("create encounter records"),
    N_("amend encounter records"), N_("entered in error encounter records"), N_("create referral records"),
    N_("update referral records"), N_("create followup records"), N_("update followup records"),
    N_("create user records"), N_("update user records"), N_("revoke user records"), N_("revoke device records"),
    N_("release device records"))
ACTIONS: dict[str, Write | frozenset[str]] = {
    N_("register"): Write("patient", "create"),
    N_("edit patient"): Write("patient", "update"),
    N_("void patient"): Write("patient", "update", ("voided",)),
    N_("merge patients"): Write("patient", "update", ("merged_into",)),
    N_("resolve conflict"): Write("patient", "update", resolves=True),
    N_("record encounter"): Write("encounter", "create"),
    N_("amend encounter"): Write("encounter", "amend"),
    N_("update task"): Write("referral", "update"),
    N_("manage users"): Write("user", "create"),
    N_("revoke users"): Write("user", "revoke"),
    N_("enrol laptops"): Write("device", "revoke"),  # who enrols a laptop is who may revoke it
    N_("see the day summary"): SUPERVISOR,
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
        action = f"{write.op.replace('_', ' ')} {write.entity} records"
        raise NotAllowed(_("a {role} may not {action}").format(role=_(role), action=_(action)))
