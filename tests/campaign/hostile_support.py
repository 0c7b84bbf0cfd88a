"""Hostile inputs for the hub's routes and the LAN protocol (security.md T4-T6, T9, T10), drawn from
a seeded `random.Random` so that a failing run replays: the seed is printed, and FIELDKIT_SEED sets it.

Each input is raw bytes as they go on the wire (a frame: 4-byte length, flag, JSON), with a label
saying how it was made, so a failure names the kind of input as well as the seed.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import zlib
from collections.abc import Callable
from typing import Any

from fieldkit.sync import messages
from fieldkit.sync.wire import MAX_FRAME, ProtocolError, unframe

HEX = re.compile(r"(?:[0-9a-f]{2})+")
# Inflates past MAX_FRAME from a few kilobytes: made once, it takes a fifth of a second.
BOMB = zlib.compress(b"0" * (MAX_FRAME + 1024), 9)


def seeded(name: str) -> random.Random:
    """A generator seeded from FIELDKIT_SEED, or at random; the seed goes to the test's output."""
    seed = int(os.environ.get("FIELDKIT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"{name}: FIELDKIT_SEED={seed}")
    return random.Random(seed)


def frame(body: bytes, flag: int = 0, size: int | None = None) -> bytes:
    return (len(body) if size is None else size).to_bytes(4, "big") + bytes([flag]) + body


def plain(message: Any) -> bytes:
    """A message as an uncompressed frame, written by the standard library, which writes what orjson
    would refuse to (NaN, integers past 64 bits): another client might."""
    return frame(json.dumps(message, ensure_ascii=False).encode())


def json_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, biased towards the edges: huge and negative numbers, NaN, long and odd text."""
    pick = rng.randrange(14 if depth < 3 else 10)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, rng.randrange(-1000, 1000)])
    if pick == 3:
        return rng.choice([0.5, -0.0, 1e308, float("nan"), float("inf"), float("-inf")])
    if pick == 4:
        return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([32, 64, 31, 128])))
    if pick == 5:
        return rng.choice(["", " ", "\u0000", "é", "Phạm Thị Lan", "\u202e", "\ud7ff" * 3, "a" * rng.randrange(500, 70_000)])
    if pick in (6, 7, 8, 9):
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(0, 24)))
    if pick in (10, 11):
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {str(json_value(rng, 3)): json_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def _bad_frame(rng: random.Random, genuine: bytes) -> tuple[str, bytes]:
    body = genuine[5:]
    kind = rng.choice(["claims less", "claims more", "claims too much", "bad flag", "bad zlib", "bomb",
                       "truncated zlib", "empty", "header only", "two frames"])
    if kind == "claims less":
        return kind, frame(body, size=rng.randrange(0, max(1, len(body))))
    if kind == "claims more":
        return kind, frame(body, size=len(body) + rng.randrange(1, 1000))
    if kind == "claims too much":
        return kind, frame(body, size=rng.randrange(MAX_FRAME + 1, 2**32))
    if kind == "bad flag":
        return kind, frame(body, flag=rng.randrange(2, 256))
    if kind == "bad zlib":
        return kind, frame(rng.randbytes(rng.randrange(0, 200)), flag=1)
    if kind == "bomb":
        return kind, frame(BOMB, flag=1)
    if kind == "truncated zlib":
        packed = zlib.compress(body)
        return kind, frame(packed[: rng.randrange(0, len(packed))], flag=1)
    if kind == "empty":
        return kind, frame(b"", flag=rng.choice([0, 1]))
    if kind == "header only":
        return kind, genuine[: rng.randrange(0, 5)]
    return kind, genuine + genuine


def _wrong_shape(rng: random.Random, kind: str) -> tuple[str, bytes]:
    how = rng.choice(["any value", "any object", "its kind, any fields", "other kind", "deep", "duplicate keys",
                      "bad utf-8", "not json"])
    if how == "any value":
        return how, plain(json_value(rng))
    if how == "any object":
        return how, plain({str(json_value(rng, 3)): json_value(rng, 1) for _ in range(rng.randrange(0, 6))})
    if how == "its kind, any fields":
        fields = {str(json_value(rng, 3)): json_value(rng, 1) for _ in range(rng.randrange(0, 6))}
        return how, plain({**fields, "kind": kind})
    if how == "other kind":
        return how, plain({"kind": rng.choice(["hello", "batch", "ack", "done", "error", "HELLO", "", "pull"])})
    if how == "deep":
        depth = rng.choice([1000, 100_000])
        return how, frame(b'{"kind":"' + kind.encode() + b'","x":' + b"[" * depth + b"]" * depth + b"}")
    if how == "duplicate keys":
        other = rng.choice(["hello", "batch", "ack", "done", "error"])
        return how, frame(f'{{"kind":"{kind}","kind":"{other}","vector":{{}},"message":"x"}}'.encode())
    if how == "bad utf-8":
        return how, frame(b'{"kind":"' + kind.encode() + b'","message":"\xff\xfe\xc3"}')
    return how, frame(rng.choice([b"{", b"[1,2", b'{"kind":}', b"null", b"NaN", b'"hello"', b"\x00" * 8]))


def mutated(rng: random.Random, message: dict[str, Any]) -> dict[str, Any]:
    """The message with one field replaced by any JSON value or removed, or one value inside an
    entry or checkpoint replaced: past the frame checks, into validation and verification."""
    changed = dict(message)
    key = rng.choice(sorted(changed))
    nested = [k for k in ("entries", "checkpoints") if changed.get(k)]
    if nested and rng.random() < 0.5:
        key = rng.choice(nested)
        rows = [list(row) for row in changed[key]]
        row = rows[rng.randrange(len(rows))]
        row[rng.randrange(len(row))] = json_value(rng)
        changed[key] = rows
    elif rng.random() < 0.2:
        del changed[key]
    else:
        changed[key] = json_value(rng)
    return changed


def hostile(rng: random.Random, genuine: dict[str, Any]) -> tuple[str, bytes]:
    """One malformed input in place of the message `genuine`: (how it was made, its bytes)."""
    pick = rng.random()
    if pick < 0.1:
        return "random bytes", rng.randbytes(rng.choice([rng.randrange(0, 6), rng.randrange(0, 400)]))
    if pick < 0.3:
        how, body = _bad_frame(rng, plain(genuine))
        return f"bad frame: {how}", body
    if pick < 0.5:
        how, body = _wrong_shape(rng, genuine["kind"])
        return f"wrong shape: {how}", body
    return "one field changed", plain(mutated(rng, genuine))


# -- one bit flipped in a signed batch ------------------------------------------------------------

def _flip_bytes(rng: random.Random, data: bytes) -> bytes:
    flipped = bytearray(data)
    at = rng.randrange(len(flipped) * 8)
    flipped[at // 8] ^= 1 << (at % 8)
    return bytes(flipped)


def _flip_text(rng: random.Random, text: str) -> str:
    if HEX.fullmatch(text):  # a hash, a signature, a device id: one bit of what the hex spells
        return _flip_bytes(rng, bytes.fromhex(text)).hex()
    if text.startswith("-----BEGIN CERTIFICATE-----"):
        b64 = base64.encodebytes(_flip_bytes(rng, _der(text))).decode()
        return f"-----BEGIN CERTIFICATE-----\n{b64}-----END CERTIFICATE-----\n"
    for _ in range(50):
        try:
            return _flip_bytes(rng, text.encode()).decode()
        except UnicodeDecodeError:
            continue  # JSON carries text: flip another bit rather than send what no client can write
    return text + "\u0001"


def _der(pem: str) -> bytes:
    return base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))


def _flip_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(value)
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(max(value.bit_length(), 8)))
    return _flip_text(rng, value)


def field_flipped(rng: random.Random, batch: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The batch with one bit flipped in one value: an entry's field (payload, hash, link, ids,
    seq, clock), a checkpoint's (hash, signature, seq) or a carried certificate's DER."""
    changed = json.loads(json.dumps(batch))
    targets = ["entries"] * 6 + ["checkpoints"] * 3 + (["certificates"] if changed["certificates"] else [])
    where = rng.choice(targets)
    if where == "certificates":
        origin = rng.choice(sorted(changed["certificates"]))
        changed["certificates"][origin] = _flip_text(rng, changed["certificates"][origin])
        return "certificate", changed
    rows = changed[where]
    row = rows[rng.randrange(len(rows))]
    column = rng.randrange(len(row))
    row[column] = _flip_value(rng, row[column])
    return f"{where[:-1]} field {column}", changed


def meaning(body: bytes) -> Any:
    """What a receiver understands from a frame: two frames that mean the same batch (an upper-case
    hex digit in a signature, a renamed key that is ignored) are one input, not a tampered one."""
    try:
        message = messages.parse(unframe(body))
    except ProtocolError:
        return None
    if not isinstance(message, messages.Batch):
        return message
    try:
        return (message.entries, [(o, s, h, bytes.fromhex(sig)) for o, s, h, sig in message.checkpoints],
                {origin: _der(pem) for origin, pem in message.certificates.items()})
    except ValueError:
        return None


def flipped(rng: random.Random, batch: dict[str, Any], encoded: Callable[[dict[str, Any]], bytes]
            ) -> tuple[str, bytes] | None:
    """A signed batch with one bit flipped: in one of its values, or anywhere in its frame (length,
    flag, JSON text). None when the flip left the batch meaning what it meant (not tampering)."""
    if rng.random() < 0.6:
        where, changed = field_flipped(rng, batch)
        return f"bit in {where}", encoded(changed)
    genuine = plain(batch) if rng.random() < 0.7 else encoded(batch)  # plain: the flip lands in the JSON
    body = _flip_bytes(rng, genuine)
    if meaning(body) is not None and meaning(body) == meaning(genuine):
        return None
    return ("bit in the frame header" if body[:5] != genuine[:5] else "bit in the frame's JSON"), body


# -- frames on a stream, as a laptop reads them ----------------------------------------------------

def split(data: bytes) -> tuple[list[bytes], bool]:
    """The whole frames `data` holds, read as a laptop reads a stream, and whether it ends where a
    frame ends (or at a header refused outright). If not, the server would wait for the rest, so the
    hostile laptop hangs up instead."""
    at, whole = 0, []
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        if len(data) - at >= 5 and size > MAX_FRAME:
            return whole, True
        if len(data) - at < 5 + size:
            return whole, False
        whole.append(data[at:at + 5 + size])
        at += 5 + size
    return whole, True


def complete(data: bytes) -> bool:
    return split(data)[1]


def carries(body: bytes, message: dict) -> bool:
    """Whether a frame in `body` means `message` itself: a genuine message, not a hostile one."""
    return any(meaning(one) == meaning(plain(message)) for one in split(body)[0])
