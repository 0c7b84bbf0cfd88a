"""What a referral or treatment letter says, which items it cannot go without, and its canonical text.

Gyedu et al. (Int J Surg 2015) found that none of 643 referral letters carried every essential
item, and that a structured form refusing incomplete letters cut "five or more missing" from 50%
to 8%; so a letter missing an essential item is refused, naming what is missing.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _

# What a caller passes for allergies or medicines when someone asked and there are none; an
# empty tuple means nobody recorded them, and a letter must not let the reader guess which.
NONE_KNOWN = "none known"


@dataclass(frozen=True)
class LetterContent:
    kind: Literal["referral", "treatment"]
    language: str
    referral_id: str
    referral_number: str
    issued: date
    patient_name: str
    age: str
    sex: str
    working_diagnosis: str
    reason: str
    brief_history: str
    tests_done: str
    urgency: str
    destination: str
    from_facility: str
    vitals: tuple[tuple[str, str], ...]
    news2: str
    allergies: tuple[str, ...]
    medicines: tuple[str, ...]
    treatment_given: str = ""
    board_reference: str = ""
    referrer: str = ""
    service: str = ""


ESSENTIAL: tuple[tuple[str, str], ...] = (
    ("age", N_("age")),
    ("working_diagnosis", N_("working diagnosis")),
    ("reason", N_("reason")),
    ("brief_history", N_("brief history")),
    ("tests_done", N_("tests done")),
    ("urgency", N_("urgency")),
    ("destination", N_("destination")),
    ("referral_number", N_("referral number")),
    ("vitals", N_("vitals with NEWS2")),
    ("allergies", N_("allergies")),
    ("medicines", N_("medicines")),
)
BOARD_REFERENCE = N_("board reference")


class IncompleteLetter(FieldkitError):
    """A letter lacking essential items: it is not printed, and the message names them."""


def _stated(items: tuple[str, ...]) -> bool:
    return any(item.strip() for item in items)


def _present(content: LetterContent, name: str) -> bool:
    if name == "vitals":
        # Readings without the score they add up to leave the receiving clinician to redo it.
        return bool(content.vitals) and bool(content.news2.strip())
    value = getattr(content, name)
    return _stated(value) if isinstance(value, tuple) else bool(value.strip())


def missing(content: LetterContent) -> list[str]:
    """The essential items `content` lacks, as labels in the user's language, in ESSENTIAL's order.

    Allergies and medicines must be stated: an empty tuple means "not recorded" and is missing.
    When someone asked and there are none, the caller passes `(NONE_KNOWN,)`, i.e. ("none known",),
    which the letter prints (translated) as such. A treatment letter also needs the board's
    reference: the board approved it before it may be printed.
    """
    labels = [_(label) for name, label in ESSENTIAL if not _present(content, name)]
    if content.kind == "treatment" and not content.board_reference.strip():
        labels.append(_(BOARD_REFERENCE))
    return labels


def refuse_if_incomplete(content: LetterContent) -> None:
    if gaps := missing(content):
        raise IncompleteLetter(_("the letter cannot be printed: missing {items}").format(items=", ".join(gaps)))


def letter_text(content: LetterContent) -> str:
    """The letter's every item as canonical plain text: what the QR's hash covers.

    This text, not the PDF's bytes, is hashed: the PDF changes with the fpdf2 version and fonts,
    and text extracted from shaped right-to-left PDF comes out reordered (py-pdf/fpdf2#901), so
    a verifier rebuilds this text from the record and compares hashes instead.

    One line per field, in LetterContent's declaration order, as `field_name: value` with the
    value JSON-encoded (so a newline or separator inside a value cannot make two different
    letters read the same) and NFC-normalised (so Vietnamese typed decomposed on one laptop
    hashes as composed on another). Field names, not display labels, so rewording a label never
    invalidates letters already printed.
    """
    lines = ["fieldkit letter 1"]
    for field in fields(content):
        value = getattr(content, field.name)
        if isinstance(value, date):
            value = value.isoformat()
        lines.append(f"{field.name}: {json.dumps(value, ensure_ascii=False)}")
    return unicodedata.normalize("NFC", "\n".join(lines))
