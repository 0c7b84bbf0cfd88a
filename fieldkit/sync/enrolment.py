"""Enrolling a new laptop over the LAN with a six-digit code read off the supervisor's screen.

The new laptop has no certificate yet, so nothing can be proven by TLS; the short code is the
only shared secret. An HMAC of the code would let anyone who recorded the exchange try all
million codes offline in a second. SPAKE2 (a password-authenticated key exchange) leaves an
eavesdropper nothing to test guesses against, and an active attacker one guess per connection,
which the offer counts: after `attempts` wrong codes, or `lifetime` seconds, it closes.

Frames are a 4-byte big-endian length and a body of at most 64 KiB, on plain TCP:

    supervisor -> laptop   1  network id, in clear (the laptop binds it into SPAKE2)
    supervisor -> laptop   2  SPAKE2 message (side A)
    laptop -> supervisor   3  SPAKE2 message (side B)
    laptop -> supervisor   4  HMAC-SHA256(K, "laptop confirms")
    supervisor -> laptop   5  HMAC-SHA256(K, "supervisor confirms"), or a refusal if 4 was wrong
    laptop -> supervisor   6  AES-GCM: the laptop's raw Ed25519 public key
    supervisor -> laptop   7  AES-GCM: {"network": PEM, "certificate": PEM}

The laptop confirms first, so a stranger who guessed wrong learns nothing until the supervisor
has counted the guess; one who hangs up before confirming never learns anything at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_A, SPAKE2_B

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.sync import certs, identity
from fieldkit.sync.certs import Network

MAX_FRAME = 64 * 1024
READ_TIMEOUT = 30.0  # the supervisor's wait for each frame; the code was typed before connecting
_VERSION = b"fieldkit-enrol-v1"
_LAPTOP_CONFIRMS, _SUPERVISOR_CONFIRMS = _VERSION + b" laptop confirms", _VERSION + b" supervisor confirms"
_TO_SUPERVISOR, _TO_LAPTOP = _VERSION + b" laptop to supervisor", _VERSION + b" supervisor to laptop"
# Laptops set to Arabic or Persian type these digits; the code on screen is ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]")
LINK = "fieldkit:join"
_LINK = re.compile(r"fieldkit:join\?code=(?P<code>[0-9]{6})&at=(?P<at>[0-9A-Za-z.\-]+:[0-9]{1,5}(,[0-9A-Za-z.\-]+:[0-9]{1,5})*)")

log = logging.getLogger(__name__)


class EnrolmentRefused(FieldkitError):
    pass


class Unanswered(EnrolmentRefused):
    """Nothing listens at that address: the offer ended, or the address is not the supervisor's."""


def new_code() -> str:
    digits = f"{secrets.randbelow(10**6):06d}"
    return f"{digits[:3]}-{digits[3:]}"  # read aloud in two halves


def _password(code: str) -> bytes:
    digits = _SEPARATORS.sub("", code.translate(_DIGITS))
    if not re.fullmatch(r"[0-9]{6}", digits):
        raise EnrolmentRefused("an enrolment code is 6 digits, such as 482-913")
    return digits.encode()


def join_link(code: str, addresses: list[tuple[str, int]]) -> str:
    """What the supervisor's QR code holds: the code and where to send it, as one line of text.

    A QR scanner on the new laptop types it like a keyboard into `fieldkit network join`.
    """
    return f"{LINK}?code={_password(code).decode()}&at=" + ",".join(f"{host}:{port}" for host, port in addresses)


def read_link(text: str) -> tuple[str, list[tuple[str, int]]]:
    """The code and the addresses in a join link; EnrolmentRefused if it is not one."""
    match = _LINK.fullmatch(text.strip())
    if not match:
        raise EnrolmentRefused(f"not a join link (expected {LINK}?code=123456&at=ADDRESS:PORT)")
    addresses = [(host, int(port)) for host, port in (a.rsplit(":", 1) for a in match["at"].split(","))]
    return match["code"], addresses


def _spake(side: type, password: bytes, network_id: str) -> SPAKE2_A | SPAKE2_B:
    # Binding the network id means both ends agree on which network the code opens.
    return side(password, idA=_VERSION + b" supervisor " + network_id.encode(), idB=_VERSION + b" laptop")


def _finish(spake: SPAKE2_A | SPAKE2_B, message: bytes) -> bytes:
    try:
        return spake.finish(message)
    except Exception:  # noqa: BLE001 - the pure-Python library rejects bad points with asserts and its own types
        raise EnrolmentRefused("not an enrolment message") from None


def _confirmation(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()


def _cipher(key: bytes, direction: bytes) -> AESGCM:
    return AESGCM(HKDF(hashes.SHA256(), 32, salt=None, info=direction).derive(key))


def _seal(key: bytes, direction: bytes, plain: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _cipher(key, direction).encrypt(nonce, plain, None)


def _open(key: bytes, direction: bytes, sealed: bytes) -> bytes:
    return _cipher(key, direction).decrypt(sealed[:12], sealed[12:], None)


async def _send(writer: asyncio.StreamWriter, *frames: bytes) -> None:
    for frame in frames:
        writer.write(len(frame).to_bytes(4, "big") + frame)
    await writer.drain()


async def _read(reader: asyncio.StreamReader, timeout: float) -> bytes:
    async def frame() -> bytes:
        size = int.from_bytes(await reader.readexactly(4), "big")
        if size > MAX_FRAME:
            raise EnrolmentRefused(f"a frame of {size} bytes is over the {MAX_FRAME} byte limit")
        return await reader.readexactly(size)
    return await asyncio.wait_for(frame(), timeout)


@dataclass
class Offer:
    """The supervisor's side: one code, one laptop, a few tries, a few minutes."""

    code: str = field(repr=False)
    network_key: bytes = field(repr=False)
    network: Network
    attempts: int = 3
    lifetime: float = 600.0
    port: int = field(default=0, init=False)
    _wrong: int = field(default=0, init=False, repr=False)
    _claimed: bool = field(default=False, init=False, repr=False)  # a code-holder is past step 5
    _device: str | None = field(default=None, init=False, repr=False)
    _refusal: str = field(default="", init=False, repr=False)
    _over: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._password = _password(self.code)
        if identity.device_id(identity.public_key(self.network_key)) != self.network.id:
            raise FieldkitError("this key is not the network's key")

    async def serve(self, host: str | list[str] = "0.0.0.0", port: int = 0) -> None:
        """Listen on one address, or several (asyncio binds each)."""
        self._server = await asyncio.start_server(self._session, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._timer = asyncio.get_running_loop().call_later(self.lifetime, self._end, None, "code expired")

    async def wait(self) -> str:
        """The device id of the laptop that joined, or EnrolmentRefused saying why none did."""
        await self._over.wait()
        if self._device is None:
            raise EnrolmentRefused(self._refusal)
        return self._device

    async def close(self) -> None:
        self._end(None, "enrolment cancelled")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _end(self, device: str | None, refusal: str = "") -> None:
        if self._over.is_set():
            return
        self._device, self._refusal = device, refusal
        self._over.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.close()  # stops listening; later joins are refused at connect

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self._over.is_set():
                await self._enrol(reader, writer)
        except (FieldkitError, OSError, EOFError, ValueError, InvalidTag) as exc:
            # Whatever a stranger sends ends their connection, never the offer.
            log.debug("enrolment connection dropped: %s", type(exc).__name__)
        finally:
            writer.close()

    async def _enrol(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        spake = _spake(SPAKE2_A, self._password, self.network.id)
        await _send(writer, self.network.id.encode(), spake.start())
        key = _finish(spake, await _read(reader, READ_TIMEOUT))
        confirmation = await _read(reader, READ_TIMEOUT)
        if self._over.is_set() or self._claimed:
            return  # another connection ended or took the offer while this one was talking
        if not hmac.compare_digest(confirmation, _confirmation(key, _LAPTOP_CONFIRMS)):
            self._wrong += 1
            if self._wrong >= self.attempts:
                self._end(None, "too many wrong codes")
            await _send(writer, b"wrong code")
            return
        self._claimed = True
        try:
            await _send(writer, _confirmation(key, _SUPERVISOR_CONFIRMS))
            public = _open(key, _TO_SUPERVISOR, await _read(reader, READ_TIMEOUT))
            certificate = certs.enrol(self.network_key, self.network, public)
            crashpoint("enrol.issue.before_send")
            reply = {"network": self.network.certificate.decode(), "certificate": certificate.decode()}
            await _send(writer, _seal(key, _TO_LAPTOP, json.dumps(reply).encode()))
            self._end(identity.device_id(public))
        finally:
            self._claimed = False  # if this failed, whoever knows the code may try again


async def join(code: str, host: str, port: int, *, device_key: bytes,
               timeout: float = 30.0) -> tuple[Network, bytes]:
    """The new laptop's side: the network it joined and its certificate (PEM) for that network."""
    password = _password(code)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except OSError:
        raise Unanswered(f"no enrolment offer answers at {host}:{port}") from None
    try:
        return await _join(reader, writer, password, device_key, timeout)
    except TimeoutError:
        raise EnrolmentRefused("the supervisor's laptop stopped answering") from None
    except (OSError, EOFError):
        raise EnrolmentRefused("the supervisor's laptop closed the connection") from None
    except (ValueError, LookupError, InvalidTag):
        raise EnrolmentRefused("the supervisor's laptop sent a garbled reply") from None
    finally:
        writer.close()


async def join_any(code: str, addresses: list[tuple[str, int]], *, device_key: bytes,
                   timeout: float = 30.0) -> tuple[Network, bytes]:
    """`join` at the first of a supervisor's addresses that answers (a laptop on Wi-Fi and cable has two)."""
    unanswered = []
    for host, port in addresses:
        try:
            return await join(code, host, port, device_key=device_key, timeout=timeout)
        except Unanswered:
            unanswered.append(f"{host}:{port}")
    raise Unanswered(f"no enrolment offer answers at {', '.join(unanswered)}")


async def _join(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, password: bytes,
                device_key: bytes, timeout: float) -> tuple[Network, bytes]:
    network_id = (await _read(reader, timeout)).decode("ascii")
    spake = _spake(SPAKE2_B, password, network_id)
    message = spake.start()
    key = _finish(spake, await _read(reader, timeout))
    await _send(writer, message, _confirmation(key, _LAPTOP_CONFIRMS))
    if not hmac.compare_digest(await _read(reader, timeout), _confirmation(key, _SUPERVISOR_CONFIRMS)):
        raise EnrolmentRefused("wrong code")
    public = identity.public_key(device_key)
    await _send(writer, _seal(key, _TO_SUPERVISOR, public))
    reply = json.loads(_open(key, _TO_LAPTOP, await _read(reader, timeout)))
    network, certificate = Network.from_certificate(reply["network"].encode()), reply["certificate"].encode()
    try:
        proven = certs.verify(certificate, network)
    except certs.CertificateRefused as exc:
        raise EnrolmentRefused(f"the supervisor sent a bad certificate: {exc}") from None
    if network.id != network_id or proven != identity.device_id(public):
        raise EnrolmentRefused("the supervisor sent a certificate for another laptop or network")
    return network, certificate
