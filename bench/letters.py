"""A printed letter's render time, beside baselines measured in the same run.

    python bench/letters.py

  letter    `fieldkit.letters.pdf.render` of a one-page Arabic and English treatment letter: the
            coverage check, the layout, shaping, the QR code and the PDF bytes; median of 20, and
            the first (cold) render of the process apart
  baseline  the same strings on a bare fpdf2 page with the same fonts, one multi_cell each: with
            shaping (what the letter's layout, checks and code add) and without (what HarfBuzz costs)
Target: a letter in under a second on a field laptop.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import fields
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = 20


def letters():
    from fieldkit.letters.content import LetterContent

    same = {"referral_id": "01HX3Q8J5V2Z4K7N9P0R6S1T2W", "referral_number": "LY-TRP-2024-0042", "issued": date(2024, 5, 2),
            "kind": "treatment", "board_reference": "LCB-2024-117"}
    arabic = LetterContent(
        language="ar", **same, patient_name="فاطمة الحسن", age="52", sex="أنثى",
        working_diagnosis="C50.9 ورم خبيث في الثدي", reason="تقييم للعلاج الكيميائي والإشعاعي",
        brief_history="كتلة في الثدي الأيسر منذ ٣ أشهر؛ خزعة بتاريخ 2024-05-01 أكدت سرطاناً قنوياً غازياً.\nلا حمى.",
        tests_done="خزعة، تصوير الثدي بالأشعة (BI-RADS 5)، تعداد دم كامل", urgency="عاجل",
        destination="مركز مصراتة للأورام", from_facility="عيادة تاجوراء الميدانية",
        vitals=(("النبض", "88 /min"), ("ضغط الدم", "128/82 mmHg"), ("الحرارة", "37.1 °C")), news2="1 (منخفض)",
        allergies=("بنسلين",), medicines=("تاموكسيفين 20 mg يومياً", "باراسيتامول 500 mg عند الحاجة"),
        treatment_given="مسكن ألم", referrer="د. سالم العبيدي، طبيب عام")
    english = LetterContent(
        language="en", **same, patient_name="Fatima Al-Hassan", age="52", sex="female",
        working_diagnosis="C50.9 Malignant neoplasm of breast", reason="Oncology review and chemotherapy",
        brief_history="Left breast lump for 3 months; core biopsy on 2024-05-01 showed invasive ductal carcinoma.",
        tests_done="Core biopsy, mammogram (BI-RADS 5), full blood count", urgency="urgent",
        destination="Misrata Oncology Centre", from_facility="Tajoura field clinic",
        vitals=(("Pulse", "88 /min"), ("Blood pressure", "128/82 mmHg"), ("Temperature", "37.1 °C")),
        news2="1 (low)", allergies=("penicillin",), medicines=("tamoxifen 20 mg daily", "paracetamol 500 mg as needed"),
        treatment_given="analgesia", referrer="Dr Salem Al-Obaidi, general practitioner")
    return {"Arabic": arabic, "English": english}


def median_ms(job) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        job()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def strings(content) -> list[str]:
    """Every text value of the letter, vitals and lists flattened."""
    out: list[str] = []
    for field in fields(content):
        value = getattr(content, field.name)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, tuple):
            out.extend(item if isinstance(item, str) else " ".join(item) for item in value)
    return [text for text in out if text.strip()]


def bare_page(content, shaped: bool) -> bytes:
    """The letter's strings on a plain page: the fonts the letter uses, no layout, checks or code."""
    from fpdf import FPDF

    from fieldkit.letters import pdf as letter_pdf

    page = FPDF(format="A4")
    main, *fallback = letter_pdf.families(content.language)
    for family in (main, *fallback):
        for style, weight in letter_pdf.STYLES.items():
            page.add_font(family, style, letter_pdf.FONTS / f"{family}-{weight}.ttf")
    page.set_fallback_fonts(fallback)
    if shaped:
        rtl = content.language in letter_pdf.OPENTYPE_LANGUAGE
        page.set_text_shaping(True, direction="rtl" if rtl else "ltr", language=letter_pdf.OPENTYPE_LANGUAGE.get(content.language))
    page.add_page()
    page.set_font(main, "", 10.5)
    for text in strings(content):
        page.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(page.output())


def letter() -> None:
    from fieldkit.letters.content import letter_text
    from fieldkit.letters.pdf import render
    from fieldkit.letters.seal import seal

    key = bytes(range(32))
    device = "0" * 32
    load = os.getloadavg()[0]
    for name, content in letters().items():
        code = seal(key, device, content.referral_id, content.issued, letter_text(content))
        started = time.perf_counter()
        render(content, code)
        cold = (time.perf_counter() - started) * 1e3
        warm = median_ms(lambda content=content, code=code: render(content, code))
        shaped = median_ms(lambda content=content: bare_page(content, shaped=True))
        plain = median_ms(lambda content=content: bare_page(content, shaped=False))
        print(f"letter    {name:<8} median {warm:.0f} ms (its first render {cold:.0f} ms)"
              f"   | baseline, bare fpdf2 page of the same text: shaped {shaped:.0f} ms, unshaped {plain:.0f} ms")
    print(f"          load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")


if __name__ == "__main__":
    letter()
