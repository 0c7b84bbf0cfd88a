"""What each role may change, checked where the change is made (and, with sync, where received)."""

from __future__ import annotations

from fieldkit.errors import FieldkitError

# The registration clerk keeps demographics and the queue but writes no clinical record.
ALLOWED: dict[str, frozenset[str]] = {
    "register": frozenset({"clerk", "clinician", "supervisor"}),
    "edit patient": frozenset({"clerk", "clinician", "supervisor"}),
    "record encounter": frozenset({"clinician", "supervisor"}),
    "amend encounter": frozenset({"clinician", "supervisor"}),
    "update task": frozenset({"clinician", "supervisor"}),
    "void patient": frozenset({"supervisor"}),
    "merge patients": frozenset({"supervisor"}),
    "resolve conflict": frozenset({"supervisor"}),
    "manage users": frozenset({"supervisor"}),
    "see the day summary": frozenset({"supervisor"}),
    "enrol laptops": frozenset({"supervisor"}),
}


class NotAllowed(FieldkitError):
    pass


def allowed(role: str, action: str) -> bool:
    return role in ALLOWED[action]


def require(role: str, action: str) -> None:
    if not allowed(role, action):
        raise NotAllowed(f"a {role} may not {action}")
