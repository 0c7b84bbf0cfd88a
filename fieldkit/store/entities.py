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
    derived: tuple[str, ...] = ()  # columns the fold computes, never written (a referral's status)

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
# A referral's request; its status is not a field but the fold of its events (store/lifecycle.py),
# which are append-only entries of the entity "referral_event", one per event, op = its type.
REFERRAL = MutableEntity(
    table="referrals",
    fields=("patient_id", "encounter_id", "to_facility", "reason", "urgency", "voided", "kind", "number",
            "from_facility", "to_service", "reason_code", "expected_by", "needs_approval", "snapshot",
            "escalated_from", "enrolment_id", "follows"),
    json_fields=frozenset({"snapshot"}),
    flag_fields=frozenset({"voided", "needs_approval"}),
    derived=("status",),
)
FOLLOWUP = MutableEntity(
    table="followups",
    fields=("patient_id", "encounter_id", "due", "reason", "status", "voided", "referral_id"),
    flag_fields=frozenset({"voided"}),
)
# A programme enrolment. Closing it (status, outcome) is a safety field: two laptops closing one
# enrolment differently wait for a supervisor instead of one outcome silently winning.
ENROLMENT = MutableEntity(
    table="enrolments",
    fields=("patient_id", "programme", "programme_version", "attributes", "status", "outcome", "outcome_date",
            "enrolled_on", "team", "voided", "stays"),
    json_fields=frozenset({"attributes", "stays"}),
    flag_fields=frozenset({"voided"}),
    safety_fields=frozenset({"status", "outcome", "outcome_date"}),
)
# Results and vaccines. A correction or an "entered in error" is a new write of status and value:
# the value shown before stays in the journal (records/labs.py reads it back), and two laptops
# changing a result or a dose at once wait for a supervisor.
SCREENING_ROUND = MutableEntity(
    table="screening_rounds",
    fields=("name", "programme", "starts", "ends", "tests", "population", "voided"),
    json_fields=frozenset({"tests"}),
    flag_fields=frozenset({"voided"}),
)
LAB_IMPORT = MutableEntity(
    table="lab_imports",
    fields=("file_sha256", "file_name", "template", "template_version", "lab", "round_id", "status", "counts",
            "voided"),
    json_fields=frozenset({"counts"}),
    flag_fields=frozenset({"voided"}),
)
LAB_RESULT = MutableEntity(
    table="lab_results",
    fields=("patient_id", "test", "loinc", "value", "unit", "coded", "text", "range_low", "range_high",
            "range_text", "interpretation", "status", "collected", "issued", "lab", "sample_id", "import_id",
            "import_row", "round_id", "note", "voided", "comparator"),
    flag_fields=frozenset({"voided"}),
    safety_fields=frozenset({"patient_id", "value", "comparator", "unit", "coded", "text", "status"}),
)
# A lab file's row that matched no patient: kept, never made into a patient, until someone matches it.
QUARANTINED_ROW = MutableEntity(
    table="quarantined_rows",
    fields=("import_id", "import_row", "data", "problem", "status", "patient_id", "voided"),
    json_fields=frozenset({"data"}),
    flag_fields=frozenset({"voided"}),
)
VACCINE_LOT = MutableEntity(
    table="vaccine_lots",
    fields=("vaccine", "lot", "expiry", "manufacturer", "voided"),
    flag_fields=frozenset({"voided"}),
)
IMMUNIZATION = MutableEntity(
    table="immunizations",
    fields=("patient_id", "vaccine", "series", "dose_number", "status", "reason", "primary_source", "occurred",
            "lot", "lot_expiry", "manufacturer", "site", "route", "dose_quantity", "dose_unit", "given_by",
            "location", "consent_by", "early_reason", "note"),
    flag_fields=frozenset({"primary_source"}),
    safety_fields=frozenset({"patient_id", "vaccine", "dose_number", "status", "occurred"}),
)
USER = MutableEntity(table="users", fields=("name", "role", "active"), flag_fields=frozenset({"active"}))

MUTABLE: dict[str, MutableEntity] = {
    "patient": PATIENT, "referral": REFERRAL, "followup": FOLLOWUP, "user": USER, "enrolment": ENROLMENT,
    "screening_round": SCREENING_ROUND, "lab_import": LAB_IMPORT, "lab_result": LAB_RESULT,
    "quarantined_row": QUARANTINED_ROW, "vaccine_lot": VACCINE_LOT, "immunization": IMMUNIZATION,
}
# Append-only entities, like encounters: a check-in (op "create", reviewed by op "review") and a
# referral's events (op: the event's type, entity id: the referral's).
# Fields whose change alters how a patient is found, so the fold re-indexes only then.
SEARCH_FIELDS = frozenset({"given_name", "family_name", "other_names", "phone", "identifiers"})
