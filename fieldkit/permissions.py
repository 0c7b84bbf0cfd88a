"""Who may write what: one table, read where a change is made (records), where it is received
(sync.verify), where users are kept (store.keystore), and by the command line and the screens.

A journal write is an entity, an operation and the fields it sets; each (entity, operation) has
the roles that may make it, and a few fields narrow that further (only a supervisor voids or
merges a patient), as does settling a conflict. The actions staff know by name ("register",
"merge patients") are these writes, plus one that writes nothing (the day summary).

A leaf module: it imports nothing of fieldkit but its error type.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.errors import FieldkitError

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
ENTITIES = frozenset(entity for entity, _ in WRITES)
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


ACTIONS: dict[str, Write | frozenset[str]] = {
    "register": Write("patient", "create"),
    "edit patient": Write("patient", "update"),
    "void patient": Write("patient", "update", ("voided",)),
    "merge patients": Write("patient", "update", ("merged_into",)),
    "resolve conflict": Write("patient", "update", resolves=True),
    "record encounter": Write("encounter", "create"),
    "amend encounter": Write("encounter", "amend"),
    "update task": Write("referral", "update"),
    "manage users": Write("user", "create"),
    "revoke users": Write("user", "revoke"),
    "enrol laptops": Write("device", "revoke"),  # who enrols a laptop is who may revoke it
    "see the day summary": SUPERVISOR,
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
        raise NotAllowed(f"a {role} may not {action}")


def require_write(role: str, write: Write) -> None:
    if role not in may_write(write):
        raise NotAllowed(f"a {role} may not {write.op.replace('_', ' ')} {write.entity} records")
