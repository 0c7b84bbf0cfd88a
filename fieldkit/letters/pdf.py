"""A letter as an A4 PDF: shaped Arabic and Persian, shipped fonts only, and the signed code.

fpdf2 silently drops a character no font has (Noto Naskh alone prints "LY-TRP-2024-0042" as
"20240042"), so every string is checked against the fonts' character maps before drawing and a
gap is an error, never a quietly wrong letter. Labels are in the letter's language, whatever
the screen's: a clinician may print an English letter for a hospital abroad from an Arabic screen.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from functools import cache
from pathlib import Path
from typing import cast

import segno
from fontTools.ttLib import TTFont
from fpdf import FPDF

from fieldkit import i18n
from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.letters.content import BOARD_REFERENCE, ESSENTIAL, NONE_KNOWN, LetterContent, letter_text, refuse_if_incomplete

FONTS = Path(__file__).parent / "fonts"
# The main font, then fallbacks fpdf2 takes a character from when the main font lacks it: Naskh
# has no Latin letters and no hyphen; a Latin letter may carry an Arabic name.
FAMILIES = {
    "ar": ("NotoNaskhArabic", "NotoSans"),
    "fa": ("Vazirmatn", "NotoSans", "NotoNaskhArabic"),
    "latin": ("NotoSans", "NotoNaskhArabic"),
}
# OpenType language tags. The script is left to HarfBuzz to guess for each run: forcing "arab"
# on the Latin runs of an Arabic letter shaped "verify" as "verfiy" (Noto Sans's fi ligature).
OPENTYPE_LANGUAGE = {"ar": "ara", "fa": "fas"}
STYLES = {"": "Regular", "B": "Bold"}
# Characters that lay text out rather than print a glyph.
LAYOUT = {"\n", "\r", "\t"}

MARGIN = 18.0
LABEL_WIDTH = 46.0
LINE = 6.0
QR_SIZE = 40.0

TITLES = {"referral": N_("Referral letter"), "treatment": N_("Treatment letter")}
LABELS = dict(ESSENTIAL) | {"board_reference": BOARD_REFERENCE}


def families(language: str) -> tuple[str, ...]:
    return FAMILIES.get(language, FAMILIES["latin"])


def _label(name: str) -> str:
    text = _(LABELS[name])
    return text[:1].upper() + text[1:]  # only the first letter: "NEWS2" must not become "News2"


def _listed(items: tuple[str, ...], separator: str) -> str:
    return _(NONE_KNOWN) if items == (NONE_KNOWN,) else separator.join(item for item in items if item.strip())


@dataclass
class _Plan:
    """Every string the letter prints, in its language, keyed by where it comes from."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (source, label, value)
    vitals: list[tuple[str, str]] = field(default_factory=list)
    closing: list[tuple[str, str, str]] = field(default_factory=list)
    fixed: dict[str, str] = field(default_factory=dict)  # headings, caption, footer


def _plan(content: LetterContent) -> _Plan:
    plan = _Plan(title=_(TITLES[content.kind]))
    destination = f"{content.destination} — {content.service}" if content.service.strip() else content.destination
    rows = [
        ("referral_number", _label("referral_number"), content.referral_number),
        ("issued", _("Date"), i18n.day(content.issued)),
        ("from_facility", _("From"), content.from_facility),
        ("destination", _("To"), destination),
        ("urgency", _label("urgency"), content.urgency),
        ("patient_name", _("Patient"), content.patient_name),
        ("age", _label("age"), content.age),
        ("sex", _("Sex"), content.sex),
        ("working_diagnosis", _label("working_diagnosis"), content.working_diagnosis),
        ("reason", _label("reason"), content.reason),
        ("brief_history", _label("brief_history"), content.brief_history),
        ("tests_done", _label("tests_done"), content.tests_done),
        ("treatment_given", _("Treatment given"), content.treatment_given),
        ("allergies", _label("allergies"), _listed(content.allergies, "، " if i18n.right_to_left() else ", ")),
        ("medicines", _label("medicines"), _listed(content.medicines, "\n")),  # a medicine a line: dose and all
        ("board_reference", _label("board_reference"), content.board_reference),
    ]
    plan.rows = [row for row in rows if row[2].strip()]
    plan.vitals = [*content.vitals, (_("NEWS2"), content.news2)]
    plan.closing = [("referrer", _("Referred by") + ":", content.referrer), ("signature", _("Signature") + ":", "")]
    plan.fixed = {
        "vitals heading": _("Vitals"),
        "caption": _("Scan to verify: fieldkit letter verify"),
        # Every digit a page number may use, so the coverage check sees them.
        "footer": f"{content.referral_number} — " + _("page {n}").format(n=i18n.digits("0123456789")),
    }
    return plan


@cache
def _cmap(family: str, style: str) -> frozenset[int]:
    with TTFont(FONTS / f"{family}-{STYLES[style]}.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def glyph_gaps(content: LetterContent, *, fonts: tuple[str, ...] | None = None) -> dict[str, set[str]]:
    """Characters the letter would print that none of its fonts has, by where they come from.

    `fonts` (family names, main first) defaults to the letter's language's; the letter prints
    in Regular and Bold, so a character counts as covered only if both styles have it. The
    canonical `letter_text` is checked too (under "letter_text").
    """
    chosen = fonts or families(content.language)
    covered = frozenset.intersection(*(frozenset().union(*(_cmap(family, style) for family in chosen))
                                       for style in STYLES))
    with i18n.using_language(content.language):
        plan = _plan(content)
    texts: dict[str, list[str]] = {"title": [plan.title], "letter_text": [letter_text(content)]}
    for source, label, value in plan.rows + plan.closing:
        texts.setdefault("labels", []).append(label)
        texts.setdefault(source, []).append(value)
    for label, value in plan.vitals:
        texts.setdefault("vitals", []).extend((label, value))
    for source, text in plan.fixed.items():
        texts[source] = [text]
    gaps: dict[str, set[str]] = {}
    for source, strings in texts.items():
        lacking = {char for text in strings for char in unicodedata.normalize("NFC", text)
                   if char not in LAYOUT and ord(char) not in covered}
        if lacking:
            gaps[source] = lacking
    return gaps


class _Letter(FPDF):
    # Each page names its letter: a second page that comes loose still says whose it is.
    number = ""
    page_label = "{n}"
    opentype_language: str | None = None

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(size=8)
        text = f"{self.number} — " + self.page_label.format(n=i18n.digits(str(self.page_no())))
        _shape(self, text)
        self.cell(0, 5, text, align="C")


def _shape(pdf: _Letter, text: str) -> None:
    """Shape `text` as a paragraph of its own direction: right to left when it holds any Arabic
    or Persian letter, else left to right, so "88 /min" in an Arabic letter does not print as
    "min/ 88" and "C50.9 ورم" reads as Arabic with a Latin run inside."""
    rtl = any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)
    pdf.set_text_shaping(use_shaping_engine=True, direction="rtl" if rtl else "ltr", language=pdf.opentype_language)


def _text(pdf: _Letter, width: float, height: float, text: str, rtl: bool) -> None:
    _shape(pdf, text)
    pdf.multi_cell(width, height, text, align="R" if rtl else "L", new_x="LMARGIN", new_y="NEXT")


def render(content: LetterContent, qr_payload: str) -> bytes:
    """The letter as PDF bytes. IncompleteLetter when an essential item is missing; FieldkitError
    naming the characters when the shipped fonts cannot print some of the text."""
    refuse_if_incomplete(content)
    if gaps := glyph_gaps(content):
        lacking = "".join(sorted(set().union(*gaps.values())))
        raise FieldkitError(_("the letter cannot be printed: no font has the characters {chars}").format(chars=lacking))
    with i18n.using_language(content.language):
        plan = _plan(content)
        return _draw(content, plan, qr_payload)


def _draw(content: LetterContent, plan: _Plan, qr_payload: str) -> bytes:
    rtl = i18n.right_to_left(content.language)
    pdf = _Letter(format="A4")
    pdf.number, pdf.page_label = content.referral_number, _("page {n}")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN)
    # A fixed date (the issue day) makes the same letter the same bytes, which golden tests need.
    pdf.set_creation_date(datetime.combine(content.issued, time(), tzinfo=UTC))
    pdf.set_lang(content.language)
    pdf.set_title(f"{plan.title} {content.referral_number}")
    main, *fallback = families(content.language)
    for family in (main, *fallback):
        for style, weight in STYLES.items():
            pdf.add_font(family, style, FONTS / f"{family}-{weight}.ttf")
    pdf.set_fallback_fonts(fallback)
    pdf.opentype_language = OPENTYPE_LANGUAGE.get(content.language)
    pdf.add_page()
    pdf.set_font(main, "B", 17)
    _text(pdf, 0, 10, plan.title, rtl)
    pdf.ln(2)
    for _source, label, value in plan.rows:
        _row(pdf, main, label, value, rtl)
    pdf.ln(2)
    pdf.set_font(main, "B", 11)
    _text(pdf, 0, LINE + 1, plan.fixed["vitals heading"], rtl)
    for label, value in plan.vitals:
        _vital(pdf, main, label, value, rtl)
    _closing(pdf, main, plan, qr_payload, rtl)
    return bytes(pdf.output())


def _columns(pdf: FPDF, width: float, rtl: bool) -> tuple[float, float]:
    """The x of the label column and of the value column: the label leads, on the right in RTL."""
    if rtl:
        return pdf.w - pdf.r_margin - width, pdf.l_margin
    return pdf.l_margin, pdf.l_margin + width


def _row(pdf: _Letter, main: str, label: str, value: str, rtl: bool) -> None:
    value_width = pdf.epw - LABEL_WIDTH
    pdf.set_font(main, "", 10.5)
    _shape(pdf, value)
    height = cast(float, pdf.multi_cell(value_width - 2, LINE, value, dry_run=True, output="HEIGHT"))
    if pdf.get_y() + min(height, 3 * LINE) > pdf.page_break_trigger:
        pdf.add_page()  # keep a label with at least the start of its value
    label_x, value_x = _columns(pdf, LABEL_WIDTH, rtl)
    top, page = pdf.get_y(), pdf.page
    pdf.set_font(main, "B", 10.5)
    pdf.set_xy(label_x, top)
    _text(pdf, LABEL_WIDTH - 2, LINE, label, rtl)
    below_label = pdf.get_y()
    pdf.set_font(main, "", 10.5)
    pdf.set_xy(value_x + (0 if rtl else 2), top)
    _text(pdf, value_width - 2, LINE, value, rtl)
    if pdf.page == page:
        pdf.set_y(max(pdf.get_y(), below_label))
    pdf.ln(1)


def _vital(pdf: _Letter, main: str, label: str, value: str, rtl: bool) -> None:
    align = "R" if rtl else "L"
    if pdf.get_y() + LINE + 1 > pdf.page_break_trigger:
        pdf.add_page()
    label_x, value_x = _columns(pdf, 60, rtl)
    top = pdf.get_y()
    pdf.set_font(main, "", 10.5)
    pdf.set_xy(label_x, top)
    _shape(pdf, label)
    pdf.cell(60, LINE + 1, label, border=1, align=align)
    pdf.set_font(main, "B", 10.5)
    pdf.set_xy(value_x, top)
    _shape(pdf, value)
    pdf.cell(pdf.epw - 60, LINE + 1, value, border=1, align=align)
    pdf.set_xy(pdf.l_margin, top + LINE + 1)


def _closing(pdf: _Letter, main: str, plan: _Plan, qr_payload: str, rtl: bool) -> None:
    """The referrer and signature line on the leading side, the signed code on the other."""
    needed = QR_SIZE + 14
    pdf.ln(6)
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y()
    text_width = pdf.epw - QR_SIZE - 8
    text_x = pdf.l_margin + (QR_SIZE + 8 if rtl else 0)
    qr_x = pdf.l_margin if rtl else pdf.w - pdf.r_margin - QR_SIZE
    pdf.set_y(top)
    for _source, label, value in plan.closing:
        pdf.set_x(text_x)
        pdf.set_font(main, "B", 10.5)
        _text(pdf, text_width, LINE, label, rtl)
        pdf.set_x(text_x)
        pdf.set_font(main, "", 10.5)
        _text(pdf, text_width, LINE, value or " ", rtl)
        pdf.ln(2)
    # The signature line, drawn rather than typed so it is the same in every script.
    pdf.line(text_x + (text_width - 80 if rtl else 0), pdf.get_y() + 4, text_x + (text_width if rtl else 80), pdf.get_y() + 4)
    code = segno.make(qr_payload, error="m", micro=False)
    png = io.BytesIO()
    code.save(png, kind="png", scale=4, border=4)
    pdf.image(png, x=qr_x, y=top, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(qr_x - 4, top + QR_SIZE)
    pdf.set_font(main, "", 7)
    _shape(pdf, plan.fixed["caption"])
    pdf.multi_cell(QR_SIZE + 8, 3.5, plan.fixed["caption"], align="C")
