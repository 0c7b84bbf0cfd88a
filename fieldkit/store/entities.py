"""Which entity types exist in the journal and how the fold merges each (DESIGN decision 2).

Mutable entities merge per field, last writer wins on (HLC, origin); their projection table has
one column per field. Encounters are immutable: corrected by amendments, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MutableEntity:
    table: str
    fields: tuple[str, ...]
    json_fields: frozenset[str] = frozenset()  # lists and maps, stored as JSON text
    flag_fields: frozenset[str] = frozenset()  # booleans, which SQLite stores as 0 and 1
    safety_fields: frozenset[str] = frozenset()  # concurrent edits always wait for a supervisor

    @property
    def columns(self) -> tuple[str, ...]:
        """Its projection table's columns: the id, each field, the first and last write's version."""
        return ("id", *self.fields, "created", "updated")

    @property
    def upsert(self) -> str:
        # Columns named, not positional: a field added by a later migration lands after `updated`.
        return (f"INSERT OR REPLACE INTO {self.table} ({', '.join(self.columns)}) "
                f"VALUES ({', '.join('?' * len(self.columns))})")


PATIENT = MutableEntity(
    table="patients",
    fields=("given_name", "family_name", "other_names", "sex", "birth_date", "birth_date_estimated",
            "phone", "identifiers", "locality", "allergies", "merged_into", "voided", "name_order"),
    json_fields=frozenset({"identifiers", "allergies"}),
    flag_fields=frozenset({"birth_date_estimated", "voided"}),
    safety_fields=frozenset({"birth_date", "birth_date_estimated", "sex", "allergies", "identifiers"}),
)
REFERRAL = MutableEntity(
    table="referrals",
    fields=("patient_id", "encounter_id", "to_facility", "reason", "urgency", "status", "voided"),
    flag_fields=frozenset({"voided"}),
)
FOLLOWUP = MutableEntity(
    table="followups",
    fields=("patient_id", "encounter_id", "due", "reason", "status", "voided"),
    flag_fields=frozenset({"voided"}),
)
USER = MutableEntity(table="users", fields=("name", "role", "active"), flag_fields=frozenset({"active"}))

MUTABLE: dict[str, MutableEntity] = {
    "patient": PATIENT, "referral": REFERRAL, "followup": FOLLOWUP, "user": USER,
}
# Fields whose change alters how a patient is found, so the fold re-indexes only then.
SEARCH_FIELDS = frozenset({"given_name", "family_name", "other_names", "phone", "identifiers"})
