"""The signed code printed on a letter: ids, a hash of the letter's text and an Ed25519 signature.

The payload carries no personal health data (no name, birth date or diagnosis): a photo of the
code leaks nothing, and the receiving clinic learns what the letter says from the paper, which
the hash then vouches for. Layout, before the signature:

    version (1 byte) | referral id length (1) | referral id (UTF-8) | issued (3, proleptic ordinal)
    | 16 bytes of SHA-256 of letter_text | signing device id (16 bytes, its 32 hex digits)

then the 64-byte signature over `DOMAIN` + those bytes, all written as `FK1:` + base32 without
padding: uppercase letters and digits only, so the QR uses its compact alphanumeric mode, a USB
scanner types it into any field, and whitespace the scanner adds can be dropped safely. About
200 characters for a ULID referral id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldkit.i18n import _, day

PREFIX = "FK1:"
VERSION = 1
# The device key also signs sync traffic: this prefix keeps a letter's signature from ever
# being valid as anything else, and the reverse.
DOMAIN = b"fieldkit letter seal v1\x00"
HASH_BYTES = 16
SIGNATURE_BYTES = 64

Status = Literal["valid", "altered", "revoked", "unknown signer", "unreadable"]


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:HASH_BYTES]


def seal(device_key: bytes, device_id: str, referral_id: str, issued: date, text: str) -> str:
    """The code to print on a letter whose canonical text (`content.letter_text`) is `text`."""
    reference = referral_id.encode()
    if not 0 < len(reference) < 256:
        raise ValueError(f"a referral id of {len(reference)} bytes does not fit a letter's code")
    if len(device_id) != 32:
        raise ValueError(f"a device id is 32 hex digits, not {device_id!r}")
    body = (bytes([VERSION, len(reference)]) + reference + issued.toordinal().to_bytes(3, "big")
            + text_hash(text) + bytes.fromhex(device_id))
    signature = Ed25519PrivateKey.from_private_bytes(device_key).sign(DOMAIN + body)
    return PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def decode(scanned: str) -> dict[str, Any]:
    """The payload's fields (`body` is the signed part); ValueError when it is not one (a bad
    date or UTF-8 included: both raise ValueError)."""
    code = "".join(scanned.split())
    # Python's str.upper folds non-ASCII letters onto ASCII ones ("ſ" -> "S"): only ASCII may fold.
    if not code.isascii() or code[: len(PREFIX)].upper() != PREFIX:
        raise ValueError("not a fieldkit letter code")
    data = code[len(PREFIX):].upper()  # a scanner with caps lock on types lowercase
    try:
        raw = base64.b32decode(data + "=" * (-len(data) % 8))
    except binascii.Error:
        raise ValueError("not base32") from None
    # Base32's last character can carry unused bits; two spellings of the same bytes would let
    # an edited code still verify.
    if base64.b32encode(raw).decode().rstrip("=") != data:
        raise ValueError("not in canonical base32")
    if len(raw) < 2 or raw[0] != VERSION:
        raise ValueError("unknown version")
    size = raw[1]
    body_size = 2 + size + 3 + HASH_BYTES + 16
    if len(raw) != body_size + SIGNATURE_BYTES:
        raise ValueError("wrong length")
    at = 2 + size
    return {
        "version": raw[0],
        "referral_id": raw[2:at].decode(),
        "issued": date.fromordinal(int.from_bytes(raw[at:at + 3], "big")),
        "hash": raw[at + 3:at + 3 + HASH_BYTES],
        "device_id": raw[at + 3 + HASH_BYTES:body_size].hex(),
        "body": raw[:body_size],
        "signature": raw[body_size:],
    }


@dataclass(frozen=True, kw_only=True)
class Verdict:
    status: Status
    referral_id: str = ""
    issued: date | None = None
    device_id: str = ""
    message: str


def verify(scanned: str, *, keys: Mapping[str, bytes], revoked: Collection[str], text: str | None = None) -> Verdict:
    """What a scanned code proves. `keys` maps device ids to raw Ed25519 public keys; `text` is
    the letter's canonical text rebuilt from the record, when the reader has it."""
    try:
        payload = decode(scanned)
    except ValueError:
        return Verdict(status="unreadable", message=_("not valid: this is not a fieldkit letter code"))
    found = {"referral_id": payload["referral_id"], "issued": payload["issued"], "device_id": payload["device_id"]}
    device = payload["device_id"][:8]
    public = keys.get(payload["device_id"])
    if public is None:
        return Verdict(status="unknown signer", **found,
                       message=_("not valid: signed by a laptop this clinic does not know ({device})").format(device=device))
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(payload["signature"], DOMAIN + payload["body"])
    except InvalidSignature:
        return Verdict(status="altered", **found, message=_("not valid: the code was altered or misread"))
    # After the signature: only a code the revoked laptop really signed is worth calling revoked.
    if payload["device_id"] in revoked:
        return Verdict(status="revoked", **found,
                       message=_("not valid: signed by a revoked laptop ({device})").format(device=device))
    if text is not None and text_hash(text) != payload["hash"]:
        return Verdict(status="altered", **found, message=_("not valid: the letter differs from the record"))
    return Verdict(status="valid", **found, message=_("valid: issued {date} by laptop {device}").format(
        date=day(payload["issued"]), device=device))
