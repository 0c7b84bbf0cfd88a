"""The sync protocol's messages, validated on arrival (DESIGN decision 3).

A session is: each side sends `hello` (what it holds, as a version vector), then streams `batch`es
of what the other lacks and `done`; each answers the other's `done` with `ack` (what it holds now).
Anything else, or anything malformed, ends the session with an `error` the other side can show.
The hub speaks the same messages over HTTP, so nothing here knows about sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter, ValidationError

from fieldkit.sync.wire import ProtocolError

if TYPE_CHECKING:
    from fieldkit.store.db import Outgoing

PROTOCOL = 1
MAX_ORIGINS = 10_000  # laptops a network could ever hold; a longer vector is an attack, not a clinic

DeviceId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Vector = Annotated[dict[DeviceId, Annotated[int, Field(ge=0)]], Field(max_length=MAX_ORIGINS)]


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)
    kind: str  # each message narrows it to its own name, the discriminator


class Hello(_Message):
    kind: Literal["hello"] = "hello"
    protocol: int
    journal_schema: int = Field(alias="schema")
    network: DeviceId
    device: DeviceId
    clock: int  # the sender's wall clock in ms: a laptop whose date is wrong is flagged at once
    vector: Vector
    # The hash of each origin's entry at the vector's seq: two laptops writing as one show here
    # (sync/forks.py). Optional, so a hello without it still parses.
    heads: Annotated[dict[DeviceId, Hash], Field(max_length=MAX_ORIGINS)] = {}


class Batch(_Message):
    kind: Literal["batch"] = "batch"
    entries: Annotated[list[list[Any]], Field(max_length=20_000)]
    # (origin, seq, entry hash, signature hex); JSON has no tuples, hence the one lax container.
    checkpoints: list[Annotated[tuple[DeviceId, StrictInt, Hash, StrictStr], Field(strict=False)]]
    certificates: dict[DeviceId, str] = {}


def batch(out: Outgoing) -> Batch:
    """The batch message carrying what the store picked for the other side."""
    return Batch(
        entries=[list(e.row()) for e in out.entries],
        checkpoints=[(c.origin, c.seq, c.hash, c.signature.hex()) for c in out.checkpoints],
        certificates={origin: pem.decode() for origin, pem in out.certificates.items()})


class Done(_Message):
    kind: Literal["done"] = "done"


class Ack(_Message):
    kind: Literal["ack"] = "ack"
    vector: Vector


class Error(_Message):
    kind: Literal["error"] = "error"
    message: Annotated[str, Field(max_length=500)]


Message = Annotated[Hello | Batch | Done | Ack | Error, Field(discriminator="kind")]
_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def parse(raw: dict[str, Any]) -> Hello | Batch | Done | Ack | Error:
    """A received message as its model; ProtocolError naming the first bad field otherwise."""
    try:
        return _adapter.validate_python(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"][1:3]) or "message"
        raise ProtocolError(f"malformed {raw.get('kind', 'message')}: {where}: {problem['msg']}") from None


def dump(message: _Message) -> dict[str, Any]:
    return message.model_dump(by_alias=True)
