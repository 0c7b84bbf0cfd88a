"""A letter from the record: what a referral says, signed by this laptop, written where the user asks.

The content comes from the referral's request and the snapshot taken when the patient was
referred, never from the chart as it is now, so a letter printed twice says the same thing. A
treatment letter needs the board's approval event first (Libya's national cancer board). Printing
a referral that has not gone yet records its "issued" event.

A letter is personal health data in plain PDF: it is written only to the path the user names,
never into the clinic's data directory, where it would sit unencrypted beside the database.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fieldkit.errors import FieldkitError
from fieldkit.i18n import LANGUAGES, _, using_language
from fieldkit.letters.content import NONE_KNOWN, LetterContent, letter_text
from fieldkit.letters.pdf import render
from fieldkit.letters.seal import Verdict, seal, verify
from fieldkit.records import referral_lists, referral_services
from fieldkit.records.models import MEASURES
from fieldkit.records.referrals import NO_KNOWN_ALLERGIES
from fieldkit.store.db import Store, Transaction
from fieldkit.store.home import Home
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import next_status
from fieldkit.sync import membership
from fieldkit.sync.identity import public_key

KINDS = ("referral", "treatment")


def _age(birth: str | None, on: date) -> str:
    if not birth:
        return ""
    born = date.fromisoformat(birth)
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    return _("{n} months").format(n=months) if months < 24 else str(months // 12)


def _stated(items: list[str]) -> tuple[str, ...]:
    return tuple(NONE_KNOWN if item == NO_KNOWN_ALLERGIES else item for item in items)


def content(conn: Any, referral_id: str, kind: str, language: str, issued: date) -> LetterContent:
    """The letter's content in `language`, as the record stands (and as it stood when referred)."""
    referral = referral_lists.detail(conn, referral_id)
    if referral is None:
        raise FieldkitError(_("no referral with id {id}").format(id=referral_id))
    approvals = [e for e in referral["events"] if e["type"] == "approved" and e["applied"]]
    if kind == "treatment" and not approvals:
        raise FieldkitError(_("a treatment letter is printed only after the board's approval"))
    snap = referral["snapshot"]
    with using_language(language):
        vitals = tuple((_(MEASURES[name].label), f"{value:g} {_(MEASURES[name].unit)}")
                       for name, value in snap.get("vitals", {}).items() if name in MEASURES)
        news2 = snap.get("news2") or {}
        diagnoses = [" ".join(part for part in (d.get("code"), d.get("text")) if part) for d in snap.get("diagnoses", [])]
        if not diagnoses and (referral["reason_code"] or referral["reason"]):
            diagnoses = [" ".join(p for p in (referral["reason_code"], referral["reason"]) if p)]
        creator = conn.execute("SELECT u.name, u.role FROM journal j LEFT JOIN users u ON u.id = j.author "
                               "WHERE j.entity_id = ? AND j.entity = 'referral' AND j.op = 'create'", (referral_id,)).fetchone()
        return LetterContent(
            kind="treatment" if kind == "treatment" else "referral", language=language, referral_id=referral_id, referral_number=referral["number"] or "",
            issued=issued, patient_name=referral["patient_name"], age=_age(snap.get("birth_date"), issued),
            sex=_(snap.get("sex") or "unknown"), working_diagnosis="; ".join(diagnoses), reason=referral["reason"] or "",
            brief_history=snap.get("history", ""), tests_done=snap.get("tests_done", ""), urgency=_(referral["urgency"]),
            destination=", ".join(p for p in (referral["to_name"], referral["to_service"]) if p),
            from_facility=referral["from_name"], vitals=vitals,
            news2=f"{news2['total']} ({_(news2.get('band', ''))})" if news2.get("total") is not None else "",
            allergies=_stated(snap.get("allergies", [])), medicines=_stated(snap.get("medicines", [])),
            treatment_given="; ".join(snap.get("treatment", [])),
            board_reference=approvals[-1].get("board_reference", "") if approvals else "",
            referrer=f"{creator[0]} ({_(creator[1])})" if creator and creator[0] else "",
            service=referral["to_service"] or "")


def _outside(path: Path, data_dir: Path) -> Path:
    target = path.expanduser().resolve()
    if Home(data_dir).holds(target):
        raise FieldkitError(_("letters are written where you choose, never into the clinic's data folder"))
    if target.suffix.lower() != ".pdf":
        target = target.with_suffix(".pdf")
    return target


def print_letter(store: Store, user: User, referral_id: str, kind: str, path: Path, *, data_dir: Path,
                 language: str) -> Path:
    """Render, sign and write one letter; record "issued" where the referral has not gone yet."""
    if kind not in KINDS:
        raise FieldkitError(_("a letter is one of {kinds}").format(kinds=", ".join(KINDS)))
    target = _outside(path, data_dir)
    issued = date.today()
    letter = store.read(lambda conn: content(conn, referral_id, kind, language, issued))
    key = membership.device_key(store)
    pdf = render(letter, seal(key, store.device_id, referral_id, issued, letter_text(letter)))

    def record(tx: Transaction) -> None:
        status = tx.execute("SELECT status FROM referrals WHERE id = ?", (referral_id,)).fetchone()[0]
        if next_status(status, "issued") is not None:
            referral_services.record_event(tx, user, referral_id, {"type": "issued"})
        tx.audit(user.id, "print letter", referral_id, kind)

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(pdf)
    os.replace(partial, target)
    store.write(record)
    return target


def _known_keys(store: Store) -> dict[str, bytes]:
    keys = {store.device_id: public_key(membership.device_key(store))}
    for device, certificate in store.certificates().items():
        keys[device] = x509.load_pem_x509_certificate(certificate).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return keys


def check(store: Store, scanned: str) -> Verdict:
    """What a scanned letter code proves: the signature and the signing laptop, and, when this
    laptop holds the referral, that the letter says what the record says."""
    keys, revoked = _known_keys(store), store.revoked()
    verdict = verify(scanned, keys=keys, revoked=revoked)
    if verdict.status != "valid" or not verdict.issued:
        return verdict
    issued = verdict.issued

    def texts(conn: Any) -> list[str] | None:
        if not conn.execute("SELECT 1 FROM referrals WHERE id = ?", (verdict.referral_id,)).fetchone():
            return None
        found = []
        for kind in KINDS:
            for language in LANGUAGES:
                try:
                    found.append(letter_text(content(conn, verdict.referral_id, kind, language, issued)))
                except FieldkitError:
                    continue
        return found

    candidates = store.read(texts)
    if candidates is None:  # a letter from another clinic's referral: the signature is all there is
        return verdict
    for text in candidates:
        if verify(scanned, keys=keys, revoked=revoked, text=text).status == "valid":
            return verdict
    return verify(scanned, keys=keys, revoked=revoked, text=candidates[0] if candidates else "")
