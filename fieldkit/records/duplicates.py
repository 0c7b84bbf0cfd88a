"""Likely duplicates at registration: a warning with reasons, never a block (ecosystem.md 6.2).

Blocking: patients sharing an identifier or phone key, or at least two name keys (native or
transliterated) with the new registration. Scoring: fuzzy similarity of the folded names, taking
the better of native script and transliteration, then sex and birth year must not contradict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from fieldkit.i18n import N_
from fieldkit.namekeys import fold, index_keys, skeleton
from fieldkit.records.models import Patient
from fieldkit.records.search import SUMMARY, PatientSummary

THRESHOLD = 85
BLOCK_LIMIT = 200


@dataclass(frozen=True)
class Match:
    patient: PatientSummary
    score: int
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _year(birth_date: str | None) -> int | None:
    return int(birth_date[:4]) if birth_date else None


def _name_score(a: str, b: str) -> int:
    native = fuzz.token_sort_ratio(fold(a), fold(b))
    latin = fuzz.token_sort_ratio(" ".join(map(skeleton, a.split())), " ".join(map(skeleton, b.split())))
    return round(max(native, latin))


def likely_duplicates(conn, patient: Patient, *, exclude: str = "", limit: int = 5) -> list[Match]:
    names = [patient.given_name, patient.other_names, patient.family_name]
    strong = index_keys([], patient.identifiers.values(), [patient.phone])
    weak = index_keys(names) - strong
    candidates = {pid for (pid,) in conn.execute(
        f"SELECT patient_id FROM search_keys WHERE key IN ({','.join('?' * len(strong))})", sorted(strong))} if strong else set()
    if weak:
        candidates |= {pid for (pid,) in conn.execute(
            f"SELECT patient_id FROM search_keys WHERE key IN ({','.join('?' * len(weak))}) "
            "GROUP BY patient_id HAVING count(*) >= 2 ORDER BY count(*) DESC LIMIT ?", (*sorted(weak), BLOCK_LIMIT))}
    candidates.discard(exclude)
    if not candidates:
        return []
    rows = conn.execute(f"SELECT {SUMMARY}, identifiers FROM patients WHERE id IN ({','.join('?' * len(candidates))}) "
                        "AND voided IS NOT 1 AND merged_into IS NULL", sorted(candidates)).fetchall()
    year = _year(patient.birth_date.isoformat() if patient.birth_date else None)
    matches = []
    for row in rows:
        other = PatientSummary.from_row(row[:-1])
        reasons = []
        score = _name_score(patient.full_name, other.full_name)
        if patient.phone and other.phone and patient.phone[-9:] == other.phone[-9:]:
            reasons.append(N_("same phone"))
        shared_ids = set(patient.identifiers.values()) & set(json.loads(row[-1] or "{}").values())
        if shared_ids:
            reasons.append(N_("same identifier"))
        if patient.sex not in ("unknown", other.sex) and other.sex != "unknown":
            score -= 30
            reasons.append(N_("different sex"))
        other_year = _year(other.birth_date)
        if year and other_year and abs(year - other_year) > 2:
            score -= 20
            reasons.append(f"born {other_year}")
        if "same identifier" in reasons or "same phone" in reasons:
            score = max(score, 90)
        if score >= THRESHOLD:
            matches.append(Match(other, min(score, 100), tuple([N_("similar name"), *reasons])))
    matches.sort(key=lambda m: (-m.score, m.patient.id))
    return matches[:limit]
