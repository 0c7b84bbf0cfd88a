"""Search keys: a patient is findable by any part of a name, an identifier or a phone number.

The store keeps `index_keys(...)` per patient in a B-tree table and answers each query token by
prefix range scans; a patient matches a query when, for every set in `query_alternatives(query)`,
one of the set's prefixes starts one of the patient's keys. Keys carry their kind, so kinds never
collide:

    n:<folded name piece>     native script, with diacritics and spelling variants folded away
    s:<skeleton>              Latin consonant skeleton: "mohamed", "muhammad" and "محمد" meet here
    i:<IDENTIFIER>            ASCII upper-case letters and digits only
    p:<reversed digits>       a prefix scan over reversed digits is a suffix match on the number

Names are indexed piece by piece (split at spaces, commas, ZWNJ, hyphens and other punctuation),
each adjacent pair joined and each written word whole, so "عبد الله", "عبدالله", "علی‌رضا" and
"Al-Hassan" are found whichever way they are typed; a query token also tries itself joined to
its neighbours. A leaf module: standard library, anyascii and fieldkit.text only.
"""

from __future__ import annotations

import itertools
import re
import string
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from anyascii import anyascii

from fieldkit.text import ascii_digits, clean_text

ZWNJ = "\u200c"
MAX_UNSURE = 2  # vowels per word spelled both ways: at most 4 skeletons each
PHONE_DIGITS = 8  # a typed phone is matched on at most its last 8 digits (see _number_keys)
PHONE_MIN_DIGITS = 6  # fewer digits are too common to be a phone: only an identifier's start


class _FoldTable(dict):
    """`str.translate` table that also deletes every combining mark and format character.

    Marks cover Latin and Vietnamese accents (after NFKD), tashkeel, and the hamza or madda of
    أ إ آ ؤ ئ, which NFKD splits off their base letter; format characters cover ZWNJ, ZWJ, bidi
    marks and soft hyphens. Unicode categories are looked up once per code point met.
    """

    def __missing__(self, code: int) -> int | None:
        self[code] = None if unicodedata.category(chr(code)) in ("Mn", "Cf") else code
        return self[code]


_FOLD = _FoldTable({
    0x0640: None,  # tatweel only stretches a word
    0x0621: None,  # a hamza on the line is as often left out as typed: علاء / علا
    0x0671: "ا",  # alef wasla (the other alef forms reach ا through NFKD)
    0x0649: "ي", 0x06CC: "ي", 0x06D2: "ي",  # alef maqsura, Farsi yeh, yeh barree
    0x06A9: "ك", 0x06AA: "ك",  # keheh (Persian kaf), swash kaf
    0x0629: "ه", 0x06D5: "ه", 0x06C1: "ه", 0x06C3: "ه",  # taa marbuta; ۀ and Urdu heh forms
    # Letters with a stroke or ligatures, which NFKD leaves whole.
    0x0111: "d", 0x00F0: "d", 0x00F8: "o", 0x0142: "l", 0x0127: "h", 0x0131: "i",
    0x00E6: "ae", 0x0153: "oe", 0x00FE: "th",
    # Apostrophes and ʿayn/hamza signs of transliterations: Sa'id, Saʿid and Said are one name.
    **dict.fromkeys(map(ord, "'`\u2018\u2019\u02bb\u02bc\u02be\u02bf")),
})
_TOKENS = re.compile(r"[\s,\u060c]+")  # query tokens and written words: spaces and commas
_SEPARATORS = re.compile(r"[\W_]+")  # inside a word: hyphens, dots, slashes...
_NUMERIC = re.compile(r"[+(]*[0-9][0-9()./-]*")  # a phone or number typed in groups
_VOWEL_GROUPS = re.compile(r"([aeiou]+)")
# Letters spelling one Arabic or Persian sound, merged before the vowels go: q/k ق ك, c/k,
# v/w و (Persian "Vahid"), j/g ج گ (Egyptian "Gamal"). Everything but a-z is deleted, as
# anyascii writes ain and hamza as ` and '.
_LETTERS = {ord("q"): "k", ord("c"): "k", ord("v"): "w", ord("j"): "g",
            **{c: None for c in range(128) if not chr(c).islower()}}
# Digraphs with a one-letter spelling, merged once the vowels are gone and so on both sides
# alike (anyascii writes ت+ح as the "th" of "Fathi" too): ث th/s (Othman, Osman), ذ ظ dh/z,
# and gh, which is غ but also the Persian ق (Ghasem, قاسم).
_DIGRAPHS = (("th", "s"), ("dh", "z"), ("gh", "k"), ("ph", "f"))
_DOUBLES = re.compile(r"(.)\1+")
_NOT_IDENTIFIER = re.compile(r"[^A-Z0-9]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")


def fold(text: str) -> str:
    """Accent-, case- and script-variant-insensitive form of a string, for comparison. Idempotent."""
    # clean_text's work is contained here: NFKD goes further than NFC, bidi controls are format
    # characters, and split() collapses whitespace.
    if text.isascii():
        return " ".join(text.casefold().translate(_FOLD).split())
    text = unicodedata.normalize("NFKD", text).casefold()
    # NFKD again: deleting a mark or a ZWNJ may leave the marks around it out of canonical order.
    text = unicodedata.normalize("NFKD", ascii_digits(text).translate(_FOLD))
    return " ".join(text.split())


def _long_vowel(group: str) -> str:
    return "y" if "i" in group or "e" in group else "w" if "o" in group or "u" in group else ""


def _first(match: re.Match) -> str:
    return match[1]


@lru_cache(maxsize=1 << 14)
def _skeletons(word: str) -> tuple[str, ...]:
    """Skeleton spellings of one folded word without separators, the surest first.

    Arabic and Persian script write consonants and long vowels (ا silent, و w, ي y) but no short
    vowels; Latin transliterations write every vowel without saying which are long. So a vowel,
    alef or ain opening the word becomes "a" (Omar ~ عمر ~ amr); a doubled vowel or diphthong
    inside the word is long (Mahmoud ~ محمود ~ mhmwd, which keeps it apart from Mohamed ~ mhmd;
    Zainab ~ زينب ~ zynb) but may be short right after the first consonant, where French writes
    "ou" for a short u (Moustafa ~ مصطفى); a single i/e/o/u may be either, and so may a vowel
    before an "a" where an ain often stood (Suad ~ سعاد). The first two unsure vowels are
    spelled both ways. Final vowels, a final h (taa marbuta) and then a final y or w (ي ى, the
    silent و of عمرو) are dropped.
    """
    latin = anyascii(word).lower()
    # Consonant runs at even indices, vowel groups at odd ones; parts[0] is "" if a vowel opens;
    # "ch" is the French spelling of ش ("Chadi") and anyascii's of چ.
    parts = _VOWEL_GROUPS.split(latin.replace("ch", "sh").translate(_LETTERS))
    options: list[tuple[str, ...]] = [("a",)] if parts[0] and (word[0] == "ا" or latin[0] in "'`") else []
    unsure = 0
    for i, part in enumerate(parts):
        long = _long_vowel(part)
        if i % 2 == 0:
            choice: tuple[str, ...] = (part,)
        elif i == 1 and not parts[0]:
            choice = ("a", "a" + long) if long else ("a",)
        elif (i == len(parts) - 2 and not parts[-1]) or not long:
            choice = ("",)
        elif len(part) == 1 or part.endswith("a"):
            choice = ("", long)
        else:
            choice = (long, "") if i == 1 else (long,)
        if len(choice) > 1:
            unsure += 1
            choice = choice if unsure <= MAX_UNSURE else choice[:1]
        options.append(choice)
    found = []
    for spelling in map("".join, itertools.product(*options)):
        if "h" in spelling:
            for digraph, sound in _DIGRAPHS:
                spelling = spelling.replace(digraph, sound)
        spelling = _DOUBLES.sub(_first, spelling)
        if spelling[1:].endswith("h"):
            spelling = spelling[:-1]
        if spelling[1:].endswith(("y", "w")):
            spelling = spelling[:-1]
        found.append(spelling)
    if "ض" in word:  # d in Arabic (Ramadan, Reda), z in Persian (Ramazan, Reza)
        found += _skeletons(word.replace("ض", "ز"))
    return tuple(dict.fromkeys(found))


def skeleton(text: str) -> str:
    """Latin consonant skeleton used for cross-script blocking (e.g. 'محمد' -> 'mhmd', 'Mohamed' -> 'mhmd').

    One skeleton per word, space-separated: the surest of its spellings.
    """
    words = (_SEPARATORS.sub("", word) for word in _TOKENS.split(fold(text)))
    return " ".join(s for s in (_skeletons(word)[0] for word in words if word) if s)


@lru_cache(maxsize=1 << 14)
def _name_keys(form: str) -> frozenset[str]:
    """Native and skeleton keys of one folded name form (a piece, two joined, a whole word)."""
    return frozenset(["n:" + form, *("s:" + s for s in _skeletons(form) if len(s) >= 2)])


def _without_article(piece: str) -> str | None:
    """الحسن is also found as حسن (a Latin "al-" or "el-" is a piece of its own already)."""
    return piece[2:] if piece.startswith("ال") and len(piece) > 4 else None


def _identifier(text: str) -> str:
    return _NOT_IDENTIFIER.sub("", ascii_digits(unicodedata.normalize("NFKC", text)).upper())


def _digits(text: str) -> str:
    return _NOT_DIGIT.sub("", ascii_digits(text))


def index_keys(names: Iterable[str], identifiers: Iterable[str] = (), phones: Iterable[str] = ()) -> set[str]:
    """Every key under which a patient with these name parts / identifiers / phone numbers is findable."""
    forms: set[str] = set()
    pieces: list[str] = []
    for name in names:
        for word in _TOKENS.split(name):
            word_pieces = [p for p in _SEPARATORS.split(fold(word.replace(ZWNJ, " "))) if p]
            pieces += word_pieces
            forms.add("".join(word_pieces))
    forms.update(pieces, map(str.__add__, pieces, pieces[1:]))
    forms.update(form for form in map(_without_article, pieces) if form)
    forms.discard("")
    keys = set().union(*map(_name_keys, forms))
    for identifier in identifiers:
        normal = _identifier(identifier)
        # Also without its letter prefix: "EG 123-456" is found by "123456".
        keys.update("i:" + form for form in (normal, normal.lstrip(string.ascii_uppercase)) if form)
    for phone in phones:
        digits = _digits(phone)
        if digits:
            keys.add("p:" + digits[::-1])
    return keys


def _query_tokens(query: str) -> list[str]:
    """Tokens split at spaces and commas, with a number typed in groups ("+963 912 345") rejoined."""
    tokens: list[str] = []
    numeric_before = False
    for token in _TOKENS.split(clean_text(query)):
        numeric = bool(_NUMERIC.fullmatch(ascii_digits(token)))
        if numeric and numeric_before:
            tokens[-1] += token
        elif token:
            tokens.append(token)
        numeric_before = numeric
    return tokens


def _number_keys(token: str) -> set[str]:
    """The identifier and phone prefixes a query token may stand for.

    An identifier prefix if the token has a digit, or is 1-3 letters (the "EG" of "EG 123456");
    a phone suffix if it has 6 or more digits after leading zeros (a trunk "0", an international
    "00"), matched on its last PHONE_DIGITS at most so that a country code typed or left out
    makes no difference: "+963 912 345 678", "00963912345678", "0912345678", "912345678" and
    "345678" all find a phone stored as any of the first four.
    """
    keys = set()
    identifier = _identifier(token)
    if identifier and (not identifier.isalpha() or len(identifier) <= 3):
        keys.add("i:" + identifier)
    digits = _digits(token).lstrip("0")
    if len(digits) >= PHONE_MIN_DIGITS:
        keys.add("p:" + digits[-PHONE_DIGITS:][::-1])
    return keys


def query_alternatives(query: str) -> list[set[str]]:
    """One set of key prefixes per query token (empty list for a blank query).

    A token offers its native key, its skeletons if it has 3 letters or more, the same for itself
    joined to each neighbouring name token ("عبد الله" finds "عبدالله" and the reverse), and the
    identifier and phone prefixes it may be (see `_number_keys`).
    """
    tokens = _query_tokens(query)
    names = [_SEPARATORS.sub("", fold(token)) for token in tokens]
    is_name = [not any(map(str.isdigit, name)) for name in names]
    alternatives = []
    for i, token in enumerate(tokens):
        forms = [names[i], _without_article(names[i])]
        if is_name[i]:
            forms += [names[j] + names[k] for j, k in ((i - 1, i), (i, i + 1))
                      if 0 <= j and k < len(tokens) and is_name[j] and is_name[k]]
        # A skeleton of one or two letters would match half the registry.
        keys = set().union(*(_name_keys(form) if sum(map(str.isalpha, form)) >= 3 else {"n:" + form}
                             for form in forms if form))
        if not is_name[i] or len(token) <= 3:
            keys |= _number_keys(token)
        if keys:
            alternatives.append(keys)
    return alternatives
