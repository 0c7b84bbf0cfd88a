"""Finding patients: prefix scans over the fold's search keys, ranked by how close the name is.

Every query token must match a key of the patient (native script, transliteration skeleton,
identifier or phone suffix; see `fieldkit.namekeys`). Candidates are found in SQL and ranked in
Python: names holding a query word whole come first (محمد before محمدی), then those holding it
whole in another script (Mohamed for محمد), then those it only starts, then by fuzzy similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from fieldkit.namekeys import fold, query_alternatives, skeleton

# Above every code point in UTF-8 order, so [key, key + TOP) is "starts with key".
TOP = "\U0010ffff"
MAX_CANDIDATES = 500
SUMMARY = "id, given_name, other_names, family_name, sex, birth_date, birth_date_estimated, phone, locality"


@dataclass(frozen=True)
class PatientSummary:
    id: str
    given_name: str
    other_names: str
    family_name: str
    sex: str
    birth_date: str
    birth_date_estimated: bool
    phone: str
    locality: str

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.given_name, self.other_names, self.family_name) if part)

    @classmethod
    def from_row(cls, row) -> "PatientSummary":
        pid, given, other, family, sex, birth, estimated, phone, locality = row
        return cls(pid, given or "", other or "", family or "", sex or "unknown", birth or "",
                   bool(estimated), phone or "", locality or "")


def _matching_ids(alternatives: list[set[str]]) -> tuple[str, list[str]]:
    selects, params = [], []
    for options in alternatives:
        selects.append("SELECT patient_id FROM search_keys WHERE "
                       + " OR ".join("(key >= ? AND key < ?)" for _ in options))
        for option in sorted(options):
            params += [option, option + TOP]
    return " INTERSECT ".join(selects), params


def search(conn, query: str, *, limit: int = 20, offset: int = 0) -> list[PatientSummary]:
    """Live patients matching every token of `query`, best match first."""
    alternatives = query_alternatives(query)
    if not alternatives:
        return []
    ids_sql, params = _matching_ids(alternatives)
    rows = conn.execute(
        f"SELECT {SUMMARY} FROM patients WHERE id IN ({ids_sql}) "
        "AND voided IS NOT 1 AND merged_into IS NULL LIMIT ?",
        (*params, MAX_CANDIDATES),
    ).fetchall()
    found = [PatientSummary.from_row(row) for row in rows]
    found.sort(key=_ranking(query))
    return found[offset:offset + limit]


def _ranking(query: str):
    wanted = fold(query)
    words = wanted.split()
    sounds = {skeleton(word) for word in words} - {""}

    def key(patient: PatientSummary) -> tuple:
        name = fold(patient.full_name)
        own = name.split()
        whole = sum(word in own for word in words)
        heard = len(sounds & {skeleton(word) for word in own})
        started = sum(any(w.startswith(word) for w in own) for word in words)
        return -whole, -heard, -started, -fuzz.WRatio(wanted, name), patient.full_name, patient.id
    return key


def recent(conn, *, limit: int = 20) -> list[PatientSummary]:
    """Patients most recently registered or changed, for the home screen."""
    rows = conn.execute(f"SELECT {SUMMARY} FROM patients WHERE voided IS NOT 1 AND merged_into IS NULL "
                        "ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
    return [PatientSummary.from_row(row) for row in rows]
