"""Search keys (fieldkit.namekeys): who is found by what, on the store's own matching rule.

`matches` is the rule the store applies with prefix range scans: every query token must have an
alternative that starts one of the patient's keys.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.namekeys import fold, index_keys, query_alternatives, skeleton

ZWNJ = "\u200c"


def matches(query: str, patient_keys: set[str]) -> bool:
    alternatives = query_alternatives(query)
    return bool(alternatives) and all(
        any(key.startswith(prefix) for prefix in options for key in patient_keys) for options in alternatives)


def found(query: str, *names: str, identifiers=(), phones=()) -> bool:
    return matches(query, index_keys(names, identifiers, phones))


# (names as registered, query that must find them)
SPELLING_VARIANTS = [
    # Alef forms, hamza seats and the hamza on the line
    (("أحمد",), "احمد"), (("احمد",), "أحمد"), (("إبراهيم",), "ابراهيم"), (("آمنة",), "امنه"),
    (("ٱلحسن",), "الحسن"), (("رؤوف",), "رووف"), (("عائشة",), "عايشه"), (("علاء",), "علا"),
    # Taa marbuta and alef maqsura
    (("فاطمة",), "فاطمه"), (("فاطمه",), "فاطمة"), (("مصطفى",), "مصطفي"), (("منى",), "مني"),
    # Tashkeel and tatweel
    (("مُحَمَّد",), "محمد"), (("محمد",), "مُحَمَّد"), (("محـــمد",), "محمد"), (("محمد",), "محـــمد"),
    # Persian yeh and kaf against the Arabic letters, both ways
    (("کریم",), "كريم"), (("كريم",), "کریم"), (("مریم",), "مريم"), (("علی",), "علي"), (("علي",), "علی"),
    # ZWNJ in Persian compound names: joined, spaced, either half
    (("زهرا" + ZWNJ + "سادات",), "زهراسادات"), (("زهرا" + ZWNJ + "سادات",), "زهرا سادات"),
    (("زهرا" + ZWNJ + "سادات",), "سادات"), (("زهرا" + ZWNJ + "سادات",), "زهرا"),
    (("علی" + ZWNJ + "رضا",), "علیرضا"), (("علی" + ZWNJ + "رضا",), "علی رضا"), (("علی" + ZWNJ + "رضا",), "رضا"),
    (("علیرضا",), "علی" + ZWNJ + "رضا"), (("علیرضا",), "علی رضا"), (("علی رضا",), "علیرضا"),
    # Vietnamese tones, đ, and names in one field or three
    (("Nguyễn", "Thị", "Hương"), "nguyen huong"), (("Nguyễn Thị Hương",), "nguyen huong"),
    (("Đặng",), "dang"), (("Đặng",), "ĐẶNG"), (("Trần Văn Dũng",), "tran dung"), (("Lê Thị Thu Hà",), "le ha"),
    (("Hương",), "HƯƠNG"), (("Nguye\u0302\u0303n",), "Nguyễn"), (("Nguyễn",), "Nguye\u0302\u0303n"),
    # Other Latin accents and strokes
    (("Müller",), "muller"), (("José",), "JOSE"), (("Søren",), "soren"), (("Łukasz",), "lukasz"),
    (("Sa'id",), "said"), (("Saʿid",), "sa'id"),
    # Compounds: عبد/ابو with the next word, joined or not, either way round
    (("عبد الله",), "عبدالله"), (("عبدالله",), "عبد الله"), (("عبدالله",), "عبد"), (("عبدالله",), "عبد ال"),
    (("عبد الرحمن",), "عبدالرحمن"), (("أبو بكر",), "ابوبكر"), (("ابوبكر",), "ابو بكر"),
    (("Abdul Rahman",), "abdulrahman"), (("Abdulrahman",), "abdul rahman"),
    (("Mohamed", "Abd", "Allah"), "abdallah"),
    # The article
    (("الحسن",), "حسن"), (("حسن",), "الحسن"), (("Al-Hassan",), "hassan"), (("Al-Hassan",), "alhassan"),
    (("Al-Hassan",), "al hassan"), (("Alhassan",), "al-hassan"), (("El-Sayed",), "sayed"),
    # Prefixes of any part, in any order
    (("Fatima",), "fat"), (("محمد",), "محم"), (("Mohamed",), "MOH"), (("فاطمة",), "fat"),
    (("Mohamed", "Ali", "Hassan"), "hassan mohamed"), (("Mohamed", "Ali", "Hassan"), "moh has"),
]


@pytest.mark.parametrize(("names", "query"), SPELLING_VARIANTS)
def test_spelling_variants_are_found(names, query):
    assert found(query, *names)


# Each group is one name in Arabic or Persian script and its common Latin spellings: any member
# finds a patient registered under any other.
CROSS_SCRIPT = [
    ["محمد", "Mohamed", "Muhammad", "Mohammed"],
    ["أحمد", "Ahmed", "Ahmad"],
    ["فاطمة", "Fatima", "Fatma"],
    ["حسن", "Hassan", "Hasan"],
    ["يوسف", "Youssef", "Yusuf"],
    ["خالد", "Khaled", "Khalid"],
    ["مريم", "مریم", "Maryam", "Mariam"],
    ["علي", "Ali"],
    ["عمر", "Omar"],
    ["زينب", "Zainab", "Zeinab"],
    ["كريم", "کریم", "Karim"],
    ["حسين", "Hussein", "Hussain"],
]


# Regional spellings: French ch/ou, Egyptian g for ج, Persian v for و and z for ض ذ ظ, ain and
# hamza written as a vowel or an apostrophe or not at all, long vowels at the end of a word.
MORE_SPELLINGS = [
    ["عثمان", "Othman", "Osman"], ["ذكي", "Zaki"], ["ظاهر", "Zaher", "Dhaher"], ["شادي", "Shadi", "Chadi"],
    ["وحید", "Vahid", "Wahid"], ["جمال", "Jamal", "Gamal"], ["قاسم", "Qasim", "Kassem", "Ghasem"],
    ["رضا", "Reza"], ["رضا", "Reda"], ["رمضان", "Ramadan"], ["رمضان", "Ramazan"],
    ["مصطفى", "Mustafa", "Moustafa"], ["منير", "Mounir", "Munir"], ["عمرو", "Amr"], ["منى", "Mona"],
    ["سعاد", "Suad"], ["رائد", "Raed"], ["وائل", "Wael"], ["سعيد", "Saeed", "Said", "Sa'id"],
    ["داود", "Daoud", "Dawood"], ["ليلى", "Layla", "Leila"], ["عائشة", "Aisha", "Aicha"],
    ["إيمان", "Eman", "Iman"], ["أسامة", "Osama"], ["إبراهيم", "Ibrahim"], ["سهيل", "Soheil", "Suhail"],
    ["فتحي", "Fathi", "Fathy"], ["عبدالله", "Abdullah", "Abdallah"], ["مهدی", "Mahdi"], ["زهرا", "Zahra"],
    ["حسین", "Hossein"], ["سارة", "Sarah", "Sara"], ["نور", "Nour", "Noor"], ["هدى", "Huda"],
    ["جعفر", "Jafar", "Ja'far", "Jaafar"], ["فرشته", "Fereshteh"],
]


@pytest.mark.parametrize(("registered", "query"),
                         [pair for group in CROSS_SCRIPT + MORE_SPELLINGS for pair in permutations(group, 2)])
def test_cross_script_spellings_find_each_other(registered, query):
    assert found(query, registered)


def test_cross_script_compounds_and_full_names():
    assert found("abdulrahman", "عبد الرحمن")
    assert found("abdel rahman", "عبدالرحمن")
    assert found("عبد الرحمن", "Abdelrahman")
    assert found("mohamed hassan", "محمد", "علي", "حسن")
    assert found("محمد حسن", "Mohamed", "Ali", "Hassan")


def test_skeleton_merges_spellings_of_one_name():
    assert skeleton("محمد") == skeleton("Mohamed") == skeleton("Muhammad") == skeleton("Mohammed") == "mhmd"
    for group in (["أحمد", "Ahmed", "Ahmad"], ["فاطمة", "Fatima", "Fatma"], ["حسن", "Hassan", "Hasan"],
                  ["خالد", "Khaled", "Khalid"], ["علي", "Ali"], ["عمر", "Omar"], ["زينب", "Zainab", "Zeinab"],
                  ["حسين", "Hussein", "Hussain"]):
        assert len({skeleton(name) for name in group}) == 1, group
    assert skeleton("Mohamed Ali") == "mhmd al"
    assert skeleton("Mahmoud") != skeleton("Mohamed")


# (names as registered, query that must not find them)
NOT_FOUND = [
    (("Ali",), "omar"), (("علي",), "omar"), (("Omar",), "ali"), (("عمر",), "علي"),
    (("Mohamed",), "mahmoud"), (("محمد",), "mahmoud"), (("محمد",), "محمود"),
    (("Mahmoud",), "mohamed"), (("محمود",), "mohamed"),
    (("Mohamed", "Ali"), "mohamed omar"),  # every token must match
    (("Bilal",), "bl"), (("Salim",), "sl"),  # no skeleton for 1-2 letter tokens, only prefixes
    (("Fatima",), "fatma hassan"),
]


@pytest.mark.parametrize(("names", "query"), NOT_FOUND)
def test_different_names_are_not_found(names, query):
    assert not found(query, *names)


def test_short_tokens_get_no_skeleton():
    assert not any(key.startswith("s:") for key in set().union(*query_alternatives("al")))
    assert "s:al" in query_alternatives("ali")[0]


@pytest.mark.parametrize("query", ["eg123456", "EG-123456", "EG 123-456", "eg 123 456", "EG12", "EG 12",
                                   "123456", "123-456", "١٢٣٤٥٦", "EG١٢٣٤٥٦"])
def test_identifier_found_with_or_without_its_letter_prefix_and_separators(query):
    assert found(query, "Amal", identifiers=["EG 123-456"])


@pytest.mark.parametrize("query", ["EG123457", "123457", "XY123456", "234567"])
def test_other_identifiers_are_not_found(query):
    assert not found(query, "Amal", identifiers=["EG 123-456"])


def test_identifier_keys_are_normalised():
    assert index_keys([], ["eg 123-456/7"]) == {"i:EG1234567", "i:1234567"}
    assert index_keys([], ["٧٨٩"]) == {"i:789"}
    assert found("a1234567", identifiers=["A1234567"]) and found("1234567", identifiers=["A1234567"])


@pytest.mark.parametrize("query", ["0912345678", "912345678", "+963912345678", "+963 912 345 678",
                                   "00963 912 345 678", "0912 345 678", "٠٩١٢٣٤٥٦٧٨", "۰۹۱۲۳۴۵۶۷۸",
                                   "345678", "2345678"])
@pytest.mark.parametrize("stored", ["+963 912 345 678", "0912345678", "0912-345-678", "٠٩١٢٣٤٥٦٧٨"])
def test_phone_found_by_its_last_digits_with_or_without_country_code_or_trunk_zero(stored, query):
    assert found(query, "Amal", phones=[stored])


@pytest.mark.parametrize("query", ["0912345679", "912345", "45678"])
def test_other_numbers_do_not_find_a_phone(query):
    assert not found(query, "Amal", phones=["+963 912 345 678"])


def test_key_kinds_never_collide():
    assert index_keys([], [], ["0912345678"]) == {"p:8765432190"}
    assert not found("12345678", identifiers=["87654321"])  # a phone query is no identifier
    assert not found("87654321", phones=["12345678"])  # nor is the stored form of a phone
    assert not found("mohamed", identifiers=["MOHAMED1"])  # a long word is no identifier prefix


def test_blank_queries_have_no_alternatives():
    assert query_alternatives("") == query_alternatives("   ") == query_alternatives(" , ، ") == []
    assert not found("", "Amal")


def test_fold_examples():
    assert fold("محـــمد") == fold("مُحَمَّد") == "محمد"
    assert fold("أإآٱا") == "ااااا"
    assert fold("ى") == fold("ی") == fold("ي") and fold("ک") == fold("ك") and fold("ة") == fold("ه")
    assert fold("ؤ") == fold("و") and fold("ئ") == fold("ي")
    assert fold("علاء") == "علا"  # the hamza on the line is dropped: it is often not typed
    assert fold("زهرا" + ZWNJ + "سادات") == "زهراسادات"
    assert fold("  Nguyễn   Thị\tHương ") == "nguyen thi huong"
    assert fold("Đặng Øre Łódź") == "dang ore lodz"
    assert fold("٠١٢٣ ۴۵۶") == "0123 456"


INVISIBLE = ["\u0640", ZWNJ, "\u200d", "\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202c",
             "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u00ad", "\ufeff"]


@given(st.text())
def test_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@given(st.text())
def test_fold_ignores_unicode_normal_form(text):
    assert fold(unicodedata.normalize("NFD", text)) == fold(text) == fold(unicodedata.normalize("NFC", text))


@given(st.text(), st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(INVISIBLE)), max_size=5))
def test_fold_ignores_tatweel_zwnj_and_bidi_controls(text, insertions):
    spoiled = text
    for position, char in insertions:
        position %= len(spoiled) + 1
        spoiled = spoiled[:position] + char + spoiled[position:]
    assert fold(spoiled) == fold(text)


def tokens(name: str) -> list[str]:
    return [token for token in re.split(r"[\s,\u060c]+", name) if token]


def assert_every_token_and_prefix_finds(names: list[str]) -> int:
    """Check each token and prefix that makes a query; return how many full tokens had to."""
    keys = index_keys(names)
    required = 0
    for token in (token for name in names for token in tokens(name)):
        if any(c.isalnum() for c in fold(token)):  # not only marks, tatweel, hamza or punctuation
            required += 1
            assert query_alternatives(token), token
        for end in range(1, len(token) + 1):
            prefix = token[:end]
            if query_alternatives(prefix):
                assert matches(prefix, keys), (names, prefix)
    return required


@given(st.lists(st.text(), max_size=4))
def test_any_token_or_prefix_that_makes_a_query_finds_its_patient(names):
    assert_every_token_and_prefix_finds(names)


LETTERS = ("ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئىةپچژگکیـ" + ZWNJ + "\u064e\u0650\u0651"
           + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + "ăâđêôơưĐàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíị"
           + "òỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ-'")
realistic_word = st.text(alphabet=LETTERS, min_size=1, max_size=12)


@given(st.lists(st.lists(realistic_word, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=4))
def test_every_name_token_is_found_by_itself_and_each_prefix(names):
    assert_every_token_and_prefix_finds(names)


def test_prefix_check_is_not_vacuous():
    assert assert_every_token_and_prefix_finds(["Nguyễn Thị Hương", "عبد الله", "زهرا" + ZWNJ + "سادات"]) == 6


@given(st.lists(st.text(), max_size=4), st.lists(st.text(), max_size=3), st.lists(st.text(), max_size=2))
def test_index_keys_never_raises_and_keys_carry_their_kind(names, identifiers, phones):
    assert all(key[:2] in ("n:", "s:", "i:", "p:") and len(key) > 2
               for key in index_keys(names, identifiers, phones))


@given(st.text())
def test_query_alternatives_never_raise_and_are_never_empty_sets(query):
    assert all(options for options in query_alternatives(query))
    assert all(re.fullmatch(r"[a-z ]*", s) for s in [skeleton(query)])
