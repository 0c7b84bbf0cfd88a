"""The signed code on a letter: valid only unaltered, from a known and unrevoked laptop, and free of health data."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import date

import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.letters.content import NONE_KNOWN, LetterContent, letter_text
from fieldkit.letters.seal import PREFIX, decode, seal, verify
from fieldkit.sync.identity import device_id, new_device_key, public_key

CONTENT = LetterContent(
    kind="referral", language="en", referral_id="01HX3Q8J5V2Z4K7N9P0R6S1T2W", referral_number="LY-TRP-2024-0042",
    issued=date(2024, 5, 2), patient_name="Fatima Al-Hassan", age="52", sex="female",
    working_diagnosis="C50.9 Malignant neoplasm of breast", reason="Oncology review", brief_history="Lump for 3 months",
    tests_done="Core biopsy", urgency="urgent", destination="Misrata Oncology Centre", from_facility="Tajoura clinic",
    vitals=(("Pulse", "88 /min"),), news2="1 (low)", allergies=(NONE_KNOWN,), medicines=("tamoxifen 20 mg daily",))
TEXT = letter_text(CONTENT)
# A fixed key: pytest-xdist's workers must collect the same parameters.
KEY = bytes(range(32))
DEVICE = device_id(public_key(KEY))
KEYS = {DEVICE: public_key(KEY)}
CODE = seal(KEY, DEVICE, CONTENT.referral_id, CONTENT.issued, TEXT)


def test_a_sealed_letter_verifies():
    verdict = verify(CODE, keys=KEYS, revoked=(), text=TEXT)
    assert verdict.status == "valid"
    assert (verdict.referral_id, verdict.issued, verdict.device_id) == (CONTENT.referral_id, CONTENT.issued, DEVICE)
    assert "\n" not in verdict.message


def test_the_code_is_short_and_scanner_typeable():
    assert CODE.startswith(PREFIX)
    assert len(CODE) < 300
    assert segno.make(CODE, error="m").mode == "alphanumeric"  # the QR's compact mode: uppercase, digits, ':'


def test_the_code_carries_no_health_data():
    raw = base64.b32decode(CODE[len(PREFIX):] + "=" * (-len(CODE[len(PREFIX):]) % 8))
    for personal in (CONTENT.patient_name, "Fatima", "Hassan", CONTENT.working_diagnosis, "C50.9", "neoplasm",
                     CONTENT.referral_number, CONTENT.age):
        assert personal.encode() not in raw
        assert personal.upper() not in CODE
    assert set(decode(CODE)) == {"version", "referral_id", "issued", "hash", "device_id", "body", "signature"}


def test_what_a_scanner_adds_is_ignored():
    assert verify(f"  {CODE[:90]}\n{CODE[90:]}\r\n", keys=KEYS, revoked=()).status == "valid"
    assert verify(CODE.lower(), keys=KEYS, revoked=()).status == "valid"  # caps lock on


def test_one_altered_character_is_altered():
    at = len(PREFIX) + 60  # inside the text's hash
    edited = CODE[:at] + ("A" if CODE[at] != "A" else "B") + CODE[at + 1:]
    verdict = verify(edited, keys=KEYS, revoked=())
    assert verdict.status == "altered"


def test_a_revoked_laptops_signature_is_revoked():
    assert verify(CODE, keys=KEYS, revoked={DEVICE}).status == "revoked"


def test_a_revoked_device_id_on_a_forged_signature_is_altered():
    # Only a signature the revoked laptop really made is called revoked; a forgery is altered.
    other, _ = new_device_key()
    forged = seal(other, DEVICE, CONTENT.referral_id, CONTENT.issued, TEXT)
    assert verify(forged, keys=KEYS, revoked={DEVICE}).status == "altered"


def test_an_unknown_laptop_is_an_unknown_signer():
    other, other_device = new_device_key()
    assert verify(seal(other, other_device, CONTENT.referral_id, CONTENT.issued, TEXT), keys=KEYS,
                  revoked=()).status == "unknown signer"
    assert verify(CODE, keys={}, revoked=()).status == "unknown signer"


def test_a_letter_that_differs_from_the_record_is_altered():
    changed = letter_text(replace(CONTENT, medicines=("tamoxifen 200 mg daily",)))
    verdict = verify(CODE, keys=KEYS, revoked=(), text=changed)
    assert verdict.status == "altered"
    assert "differs from the record" in verdict.message


def test_the_canonical_text_is_stable_and_unambiguous():
    assert letter_text(CONTENT) == TEXT
    # A separator inside a value must not make two letters read alike.
    one = replace(CONTENT, medicines=("a, b",))
    two = replace(CONTENT, medicines=("a", "b"))
    assert letter_text(one) != letter_text(two)
    # Composed and decomposed Vietnamese are the same letter.
    assert letter_text(replace(CONTENT, patient_name="Nguy\u1ec5n")) == letter_text(
        replace(CONTENT, patient_name="Nguy\u0065\u0302\u0303n"))


@pytest.mark.parametrize("scanned", ["", "hello", "FK1:", "FK1:!!!!", "FK2:" + CODE[4:], CODE[:-8], CODE + "AAAAAAAA",
                                     "FK1:" + "A" * 200])
def test_what_is_not_a_code_is_unreadable(scanned):
    assert verify(scanned, keys=KEYS, revoked=()).status == "unreadable"


@given(st.integers(min_value=0, max_value=len(CODE) - 1), st.characters())
def test_no_single_character_change_verifies(at, replacement):
    if replacement == CODE[at]:
        return
    edited = CODE[:at] + replacement + CODE[at + 1:]
    verdict = verify(edited, keys=KEYS, revoked=())
    if replacement.isascii() and replacement.upper() == CODE[at]:
        # Letter case is the one change the reader folds (scanners with caps lock on): the same bytes.
        assert decode(edited)["body"] == decode(CODE)["body"]
        return
    assert verdict.status != "valid"


def test_every_base32_substitution_at_every_position_fails():
    # The changes that still decode: exhaustively, beside the property's random ones.
    for at in range(len(PREFIX), len(CODE)):
        for replacement in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
            if replacement != CODE[at]:
                edited = CODE[:at] + replacement + CODE[at + 1:]
                # "unknown signer" when the edit lands in the device id
                assert verify(edited, keys=KEYS, revoked=()).status != "valid", (at, replacement)


def test_a_signature_made_for_something_else_does_not_verify():
    # The device key also signs sync traffic: a signature over the same bytes without the
    # letters' domain prefix must not pass for a letter's.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body = decode(CODE)["body"]
    bare = Ed25519PrivateKey.from_private_bytes(KEY).sign(body)
    code = PREFIX + base64.b32encode(body + bare).decode().rstrip("=")
    assert verify(code, keys=KEYS, revoked=()).status == "altered"
