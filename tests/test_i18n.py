"""Languages: catalogues complete and compiled, locale digits and dates for display only,
right-to-left render modes, and the session PIN."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from fieldkit import i18n
from fieldkit.errors import FieldkitError
from fieldkit.records.models import MEASURES, check_measure
from fieldkit.tui import rtl
from fieldkit.tui.pin import ATTEMPTS, Pin

ROOT = Path(__file__).parent.parent
TRANSLATED = [code for code in i18n.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")
    rtl.set_mode("terminal")


def catalogue(language: str):
    with open(i18n.CATALOGUES / language / "LC_MESSAGES" / "fieldkit.po", "rb") as f:
        return read_po(f, locale=language)


def test_every_string_in_the_code_is_in_the_template(tmp_path):
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_",
                    "--no-location", "-o", str(tmp_path / "fresh.pot"), "fieldkit"],
                   cwd=ROOT, capture_output=True, check=True)
    with open(tmp_path / "fresh.pot", "rb") as f:
        in_code = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(f) if message.id}
    with open(i18n.CATALOGUES / "fieldkit.pot", "rb") as f:
        template = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(f)}
    assert in_code <= template, f"run scripts/catalogues: new strings {sorted(in_code - template)[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_is_complete_and_keeps_placeholders(language):
    for message in catalogue(language):
        if not message.id:
            continue
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            assert string, f"{language}: untranslated {ids[0]!r}"
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(ids[0])), (language, ids[0], string)


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalogue_matches_its_source(language):
    def pairs(messages):  # plural ids and strings come as lists from one reader, tuples from the other
        return {tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id:
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string for m in messages if m.id}

    with open(i18n.CATALOGUES / language / "LC_MESSAGES" / "fieldkit.mo", "rb") as f:
        compiled = pairs(read_mo(f))
    source = pairs(catalogue(language))
    assert compiled == source, "run scripts/catalogues to recompile"


def test_switching_language_translates_at_display_time():
    i18n.set_language("fr")
    assert i18n._("Save") == "Enregistrer"
    i18n.set_language("en")
    assert i18n._("Save") == "Save"
    with pytest.raises(ValueError, match="no catalogue"):
        i18n.set_language("xx")


def test_digits_and_dates_per_locale_for_display_only():
    i18n.set_language("ar")
    assert i18n.number(37.5, 1) == "٣٧٫٥"
    assert i18n.day("2026-03-09") == "٠٩\u200f/٠٣\u200f/٢٠٢٦"  # with the right-to-left marks CLDR puts there
    # one date style per locale: a moment is its day as `day` writes it, then the time
    assert i18n.moment("2026-03-09T08:30:00").startswith(i18n.day("2026-03-09") + "، ")
    i18n.set_language("fa")
    assert i18n.number(1200) == "۱٬۲۰۰"
    # Iran's civil calendar: 29 November 2026 is 8 Azar 1405; a typed date is echoed with its Gregorian twin
    assert i18n.day("2026-11-29") == "۸ آذر ۱۴۰۵"
    assert i18n.day("2026-03-21") == "۱ فروردین ۱۴۰۵"  # Nowruz, the Solar Hijri new year
    assert i18n.moment("2026-11-29T14:05:00") == "۸ آذر ۱۴۰۵، ۱۴:۰۵"
    assert i18n.day_entered("2026-11-29").startswith("۸ آذر ۱۴۰۵ (") and "۲۰۲۶" in i18n.day_entered("2026-11-29")
    i18n.set_language("fr")
    assert i18n.number(37.5, 1) == "37,5"
    i18n.set_language("vi")
    assert i18n.digits("120/80") == "120/80"
    assert i18n.moment("2026-11-29T14:05:00") == i18n.day("2026-11-29") + ", 14:05"
    assert i18n.day_entered("2026-11-29") == i18n.day("2026-11-29")  # one calendar, nothing beside it


def test_validation_messages_follow_the_language_but_values_stay_canonical():
    i18n.set_language("fr")
    with pytest.raises(ValueError) as refused:
        check_measure(MEASURES["temperature_c"], "52")
    assert "52.0 °C" in str(refused.value) and "is not possible" not in str(refused.value)
    assert check_measure(MEASURES["temperature_c"], "٣٧٫٥") == 37.5


LOGICAL = "فاطمة الحسن 1988"


def test_render_modes():
    assert rtl.render(LOGICAL, "terminal") == LOGICAL
    app = rtl.render(LOGICAL, "app")
    assert app.startswith("1988 ") and "\u0641" not in app  # reordered and joined (presentation forms)
    words = rtl.render(LOGICAL, "words")
    assert words == "1988 الحسن فاطمة"  # words in visual order, each word's letters logical
    assert rtl.render("پرونده شماره ۱۲", "words") == "۱۲ شماره پرونده", "digits keep their order"
    assert rtl.render("Nguyễn Văn An 1990", "app") == "Nguyễn Văn An 1990"
    assert len(rtl.render("لا إله", "app")) == len("لا إله"), "lam-alef ligatures would shrink the cell"


def test_words_mode_reorders_the_words_of_a_line_and_leaves_latin_alone():
    assert rtl.render("أحمد علي", "words") == "علي أحمد"
    assert rtl.render("Ahmed Ali", "words") == "Ahmed Ali"
    with pytest.raises(ValueError):
        rtl.set_mode("mirror")


def test_pin_unlocks_and_wears_out_after_wrong_tries():
    pin = Pin("٤٤٢٧")  # typed on an Arabic keyboard
    pin.check("4427")
    for tries_left in range(ATTEMPTS - 1, 0, -1):
        with pytest.raises(FieldkitError, match=f"{tries_left} tries left"):
            pin.check("0000")
    with pytest.raises(FieldkitError, match="passphrase"):
        pin.check("0000")
    with pytest.raises(FieldkitError, match="passphrase"):
        pin.check("4427")  # spent: even the right PIN no longer opens


@pytest.mark.parametrize("bad", ["12", "1234567", "12ab", "abcdefgh"])
def test_a_pin_is_four_to_six_digits(bad):
    with pytest.raises(FieldkitError, match="4 to 6 digits"):
        Pin(bad)


def test_lists_typed_with_the_arabic_comma_split_like_latin_ones():
    from fieldkit.text import split_list

    assert split_list("بنسلين، أسبرين , ,sulfa") == ["بنسلين", "أسبرين", "sulfa"]


async def test_two_pages_rendered_at_once_each_speak_their_reader_s_language():
    """The hub renders pages for readers of different languages at once, and hands files to
    worker threads: a language spoken for a while belongs to its task and what it starts."""
    import asyncio

    from fieldkit.i18n import _, language, using_language

    async def page(spoken: str) -> tuple[str, str]:
        with using_language(spoken):
            await asyncio.sleep(0)  # the other page runs here
            return await asyncio.to_thread(lambda: (language(), _("Back")))

    said = await asyncio.gather(page("ar"), page("vi"), page("fr"))
    expected = []
    for spoken in ("ar", "vi", "fr"):
        with using_language(spoken):
            expected.append((spoken, _("Back")))
    assert said == expected and len({text for _lang, text in said}) == 3
    assert language() == "en"
