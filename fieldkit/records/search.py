"""Finding patients: prefix scans over the fold's search keys, ranked by how close the name is.

Every query token must match a key of the patient (native script, transliteration skeleton,
identifier or phone suffix; see `fieldkit.namekeys`). Candidates are found in SQL and ranked in
Python: names holding a query word whole come first (محمد before محمدی), then those holding it
whole in another script (Mohamed for محمد), then those it only starts, then by fuzzy similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import orjson
from rapidfuzz import fuzz

from fieldkit.namekeys import fold, query_alternatives, skeleton
from fieldkit.records.names import full_name
from fieldkit.records.queries import survivor

# Above every code point in UTF-8 order, so [key, key + TOP) is "starts with key".
TOP = "\U0010ffff"
MAX_CANDIDATES = 100  # ranked in Python; a longer list means the query needs another word
PREFIX_SKELETON = 3
DRIVER_PROBE = 5000  # keys counted per query word to find the rarest
SUMMARY = ("id, given_name, other_names, family_name, sex, birth_date, birth_date_estimated, phone, locality, identifiers, "
           "name_order")


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
    identifiers: tuple[str, ...] = ()  # their values, by system: two namesakes told apart on a list
    name_order: str = "given-first"

    @property
    def full_name(self) -> str:
        return full_name(vars(self))

    @classmethod
    def from_row(cls, row) -> "PatientSummary":
        pid, given, other, family, sex, birth, estimated, phone, locality, identifiers, order = row
        held = orjson.loads(identifiers) if identifiers else {}
        return cls(pid, given or "", other or "", family or "", sex or "unknown", birth or "",
                   bool(estimated), phone or "", locality or "", tuple(str(held[system]) for system in sorted(held)),
                   order or "given-first")


def _key_terms(options: set[str], column: str) -> tuple[str, list[str]]:
    terms, params = [], []
    for option in sorted(options):
        # A short skeleton ("al" of Ali, علي) starts a third of all skeletons: whole only.
        if option.startswith("s:") and len(option) - 2 < PREFIX_SKELETON:
            terms.append(f"{column} = ?")
            params.append(option)
        else:
            terms.append(f"({column} >= ? AND {column} < ?)")
            params += [option, option + TOP]
    return "(" + " OR ".join(terms) + ")", params


def _rows_up_to(conn, options: set[str], most: int) -> int:
    terms, params = _key_terms(options, "key")
    return conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM search_keys WHERE {terms} LIMIT ?)",
                        (*params, most)).fetchone()[0]


def search(conn, query: str, *, limit: int = 20, offset: int = 0) -> list[PatientSummary]:
    """Live patients matching every word of `query`, best match first.

    The rarest word drives: the patients its keys reach are checked for the other words among
    their own dozen keys, until MAX_CANDIDATES are found. So a common name ("nguyen", a fifth of
    a Vietnamese registry) never costs a set of twenty thousand ids, and two common words found
    together stop early. A driver rare enough is deduplicated first, since a patient holds
    several keys of one word (John: n:john, s:gwhn, s:kn) and each would be checked again.
    """
    alternatives = query_alternatives(query)
    if not alternatives:
        return []
    sized = sorted((_rows_up_to(conn, options, DRIVER_PROBE), i) for i, options in enumerate(alternatives)) \
        if len(alternatives) > 1 else [(DRIVER_PROBE, 0)]
    driver_rows, first = sized[0]
    terms, params = _key_terms(alternatives[first], "key")
    distinct = "DISTINCT" if driver_rows < DRIVER_PROBE else ""
    # "+" stops SQLite deduplicating by walking the whole (patient_id, key) index in order.
    source = f"(SELECT {distinct} +patient_id AS patient_id FROM search_keys WHERE {terms}) k"
    checks = []
    for _, i in sized[1:]:
        # "+" keeps SQLite on the patient's own keys instead of one index seek per option.
        terms, more = _key_terms(alternatives[i], "+other.key")
        checks.append(f"EXISTS (SELECT 1 FROM search_keys other WHERE other.patient_id = k.patient_id AND {terms})")
        params += more
    where = f"WHERE {' AND '.join(checks)}" if checks else ""
    # Patients are read only for the ids that matched every word; voided ones are dropped then,
    # which can shorten a long list but never hides a match from a refined query. A merged one
    # stands for the record it was merged into: its names, identifiers and phone find that one.
    # The candidates come back as one JSON row, not a row each: every row fetched is a turn this
    # thread must win back from a sync folding on another (the interpreter's lock), so a hundred
    # rows cost a hundred waits while a batch is folded.
    [listed] = conn.execute(
        f"SELECT json_group_array(json_array({SUMMARY}, merged_into)) FROM patients "
        f"WHERE id IN (SELECT k.patient_id FROM {source} {where} LIMIT ?) AND voided IS NOT 1",
        (*params, MAX_CANDIDATES),
    ).fetchone()
    rows = orjson.loads(listed)
    found = {row[0]: PatientSummary.from_row(row[:-1]) for row in rows if row[-1] is None}
    found |= _survivors({row[0] for row in rows if row[-1] is not None}, conn, skip=set(found))
    ranked = sorted(found.values(), key=_ranking(query))
    return ranked[offset:offset + limit]


def _survivors(merged: set[str], conn, *, skip: set[str]) -> dict[str, PatientSummary]:
    """The live records these merged ones now live in, those not found already."""
    ids = {survivor(conn, pid) for pid in sorted(merged)} - skip
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT {SUMMARY} FROM patients WHERE id IN ({marks}) AND voided IS NOT 1",
                        sorted(ids)).fetchall() if ids else []
    return {row[0]: PatientSummary.from_row(row) for row in rows}


_sound = lru_cache(maxsize=1 << 14)(skeleton)  # ranking meets the same name words again and again


def _ranking(query: str):
    wanted = fold(query)
    words = wanted.split()
    sounds = {_sound(word) for word in words} - {""}

    def key(patient: PatientSummary) -> tuple:
        name = fold(patient.full_name)
        own = name.split()
        whole = sum(word in own for word in words)
        heard = len(sounds & {_sound(word) for word in own})
        started = sum(any(w.startswith(word) for w in own) for word in words)
        return -whole, -heard, -started, -fuzz.WRatio(wanted, name), patient.full_name, patient.id
    return key


def recent(conn, *, limit: int = 20) -> list[PatientSummary]:
    """Patients most recently registered or changed, for the home screen."""
    rows = conn.execute(f"SELECT {SUMMARY} FROM patients WHERE voided IS NOT 1 AND merged_into IS NULL "
                        "ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
    return [PatientSummary.from_row(row) for row in rows]
