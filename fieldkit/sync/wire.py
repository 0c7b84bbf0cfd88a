"""Frames on a byte stream: what the sync protocol's messages look like on a socket.

A frame is a 4-byte big-endian length, one flag byte (compressed or not) and a JSON object.
Sizes are checked before anything is read into memory and again while inflating, so a peer
cannot make us hold more than `MAX_FRAME` bytes whatever it claims (a zip bomb included).
Small frames go uncompressed: zlib's header would make a hello bigger, not smaller.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from fieldkit.errors import FieldkitError

MAX_FRAME = 8 * 1024 * 1024
FRAME = "application/vnd.fieldkit.frame"  # a frame as an HTTP body, to and from the hub
COMPRESS_ABOVE = 512
_HEADER = struct.Struct(">IB")
_PLAIN, _DEFLATED = 0, 1


class ProtocolError(FieldkitError):
    """The other side sent something this protocol does not allow; the session ends."""


class ConnectionClosed(ProtocolError):
    """Our write found the connection closed: the other side may have said why just before."""


@dataclass
class Counter:
    """Bytes of frames sent and received, as they are on the wire (before TLS)."""

    sent: int = 0
    received: int = 0


def encode(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    flag = _PLAIN
    if len(body) > COMPRESS_ABOVE:
        body, flag = zlib.compress(body, 3), _DEFLATED
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"message of {len(body)} bytes is over the {MAX_FRAME} byte limit")
    return _HEADER.pack(len(body), flag) + body


def decode(flag: int, body: bytes) -> dict[str, Any]:
    if flag == _DEFLATED:
        inflater = zlib.decompressobj()
        try:
            body = inflater.decompress(body, MAX_FRAME)
        except zlib.error:
            raise ProtocolError("malformed message: not valid compressed data") from None
        if inflater.unconsumed_tail:
            raise ProtocolError(f"message inflates past the {MAX_FRAME} byte limit")
    elif flag != _PLAIN:
        raise ProtocolError(f"malformed message: unknown frame flag {flag}")
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("malformed message: not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise ProtocolError("malformed message: no kind")
    return message


def unframe(frame: bytes) -> dict[str, Any]:
    """One whole frame received as a unit (an HTTP body to or from the hub) as its message."""
    if len(frame) < _HEADER.size:
        raise ProtocolError("malformed message: shorter than a frame header")
    size, flag = _HEADER.unpack_from(frame)
    if size > MAX_FRAME:
        raise ProtocolError(f"message of {size} bytes is over the {MAX_FRAME} byte limit")
    if size != len(frame) - _HEADER.size:
        raise ProtocolError("malformed message: the frame's length does not match its body")
    return decode(flag, frame[_HEADER.size:])


class Channel:
    """Framed messages over an asyncio stream pair, counting bytes, with a timeout per read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float = 60.0) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.bytes = Counter()

    async def send(self, message: dict[str, Any]) -> None:
        frame = encode(message)
        try:
            self.writer.write(frame)
            await self.writer.drain()
        except (ConnectionError, OSError):
            raise ConnectionClosed("the other laptop closed the connection") from None
        self.bytes.sent += len(frame)

    async def receive(self) -> dict[str, Any]:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # lands as the read completes, and a stopped session would run on to its end.
            async with asyncio.timeout(self.timeout):
                header = await self.reader.readexactly(_HEADER.size)
            size, flag = _HEADER.unpack(header)
            if size > MAX_FRAME:
                raise ProtocolError(f"message of {size} bytes is over the {MAX_FRAME} byte limit")
            async with asyncio.timeout(self.timeout):
                body = await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            raise ProtocolError("the other laptop closed the connection") from None
        except TimeoutError:
            raise ProtocolError(f"the other laptop sent nothing for {self.timeout:.0f} s") from None
        self.bytes.received += _HEADER.size + size
        return decode(flag, body)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass  # already gone: closing is all we wanted
