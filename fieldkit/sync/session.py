"""One sync session between two laptops, both directions at once (DESIGN decision 3).

Each side says what it holds (`hello`, one round trip), then streams what the other lacks in
bounded batches while applying what it receives. A batch is verified, then journalled and folded
in one transaction; our vector moves only when that commits. So a session killed anywhere leaves
whole batches or none, and the next session starts from what was committed: at most the batch
in flight is sent again, and applying it twice changes nothing.

Store calls run in a thread (the writer thread does the work), so the event loop keeps serving
other peers and the interface while a batch is folded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.store.db import Store
from fieldkit.store.hlc import MAX_DRIFT_MS, wall_ms
from fieldkit.store.journal import SCHEMA_VERSION
from fieldkit.sync import messages
from fieldkit.sync.forks import refuse_forks
from fieldkit.sync.hub_vector import lacking
from fieldkit.sync.membership import Membership
from fieldkit.sync.verify import Refused, Verifier
from fieldkit.sync.wire import Channel, ConnectionClosed, ProtocolError

BATCH = 500  # the first batch: small, so a slow link shows progress at once
MAX_BATCH = 5000  # batches double up to this: each is one transaction, and commits are the cost


class PeerRefused(FieldkitError):
    """The other laptop ended the session and said why."""


@dataclass
class Report:
    """What one session did, for the sync screen, `sync status` and the benchmarks."""

    peer: str
    sent: int = 0  # entries we sent
    received: int = 0  # entries we applied that we lacked
    already_held: int = 0
    batches_sent: int = 0
    batches_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    hello_bytes: int = 0  # both hellos: the protocol's whole cost when nothing differs
    to_send: int = 0  # entries the peer lacked at hello
    to_receive: int = 0  # entries we lacked at hello
    peer_vector: dict[str, int] = field(default_factory=dict)
    clock_offset_ms: int = 0  # the peer's wall clock minus ours, as its hello said
    suspect_clock: list[str] = field(default_factory=list)  # origins stamping entries far ahead of us
    seconds: float = 0.0

    @property
    def clock_suspect(self) -> bool:
        return abs(self.clock_offset_ms) > MAX_DRIFT_MS or bool(self.suspect_clock)


async def exchange(channel: Channel, store: Store, member: Membership, peer: str, *,
                   progress: Callable[[Report], None] | None = None, batch: int = BATCH) -> Report:
    """Run one session with `peer` (the device id its certificate proved) over `channel`."""
    report, started = Report(peer), time.perf_counter()
    notify = progress or (lambda report: None)
    try:
        theirs = await _hello(channel, store, member, peer, report)
        try:
            # Both directions at once; whichever fails first stops the other.
            async with asyncio.TaskGroup() as group:
                group.create_task(_send(channel, store, member, theirs.vector, report, notify, batch))
                group.create_task(_receive(channel, store, member, report, notify))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
    except PeerRefused:
        raise
    except ConnectionClosed:
        # Sending and receiving run at once: our write can fail on a peer that has just refused
        # and hung up, before we read why. Its reason may still be waiting in the buffer.
        reason = await _last_word(channel)
        if reason:
            raise PeerRefused(f"laptop {peer[:8]} refused: {reason}") from None
        raise
    except FieldkitError as exc:  # ours to explain: a refused batch, a broken chain
        await _tell(channel, str(exc))
        raise
    report.bytes_sent, report.bytes_received = channel.bytes.sent, channel.bytes.received
    report.seconds = time.perf_counter() - started
    return report


async def _hello(channel: Channel, store: Store, member: Membership, peer: str, report: Report) -> messages.Hello:
    ours = await asyncio.to_thread(store.version_vector)
    heads = await asyncio.to_thread(store.hashes, ours)
    try:
        await channel.send(messages.dump(messages.Hello(
            protocol=messages.PROTOCOL, schema=SCHEMA_VERSION, network=member.network.id,
            device=member.device_id, clock=wall_ms(), vector=ours, heads=heads)))
    except ProtocolError:
        pass  # a refusing peer says why, then hangs up: read its reason below rather than this
    theirs = await _expect(channel, messages.Hello)
    report.hello_bytes = channel.bytes.sent + channel.bytes.received
    if theirs.protocol != messages.PROTOCOL:
        raise Refused(f"laptop {peer[:8]} speaks sync protocol {theirs.protocol}, this one {messages.PROTOCOL}: "
                      "update fieldkit on the older one")
    if theirs.network != member.network.id or theirs.device != peer:
        raise Refused(f"laptop {peer[:8]} said it was another laptop or in another network")
    await asyncio.to_thread(refuse_forks, store, ours, theirs.vector, theirs.heads)
    report.clock_offset_ms = theirs.clock - wall_ms()
    report.peer_vector = dict(theirs.vector)
    report.to_send, report.to_receive = lacking(theirs.vector, ours), lacking(ours, theirs.vector)
    return theirs


async def _send(channel: Channel, store: Store, member: Membership, vector: dict[str, int], report: Report,
                notify: Callable[[Report], None], size: int) -> None:
    vector = dict(vector)
    await asyncio.to_thread(store.sign_checkpoints, member.sign)
    while True:
        out = await asyncio.to_thread(store.outgoing, vector, size)
        size = min(size * 2, MAX_BATCH)
        if not out.entries:
            break
        await channel.send(messages.dump(messages.batch(out)))
        for checkpoint in out.checkpoints:
            vector[checkpoint.origin] = checkpoint.seq
        report.sent += len(out.entries)
        report.batches_sent += 1
        crashpoint("sync.send.after_batch")
        notify(report)
    await channel.send(messages.dump(messages.Done()))


async def _receive(channel: Channel, store: Store, member: Membership, report: Report,
                   notify: Callable[[Report], None]) -> None:
    verifier = Verifier(store, member.network)
    their_done = acked = False
    applying: asyncio.Future | None = None  # the previous batch, committing while this one is checked

    async def applied() -> None:
        assert applying is not None
        result = await applying
        crashpoint("sync.recv.after_apply")
        report.received += result.applied
        report.already_held += result.already_held
        report.suspect_clock += [o for o in result.suspect_clock if o not in report.suspect_clock]
        report.batches_received += 1
        notify(report)

    try:
        while not (their_done and acked):
            message = messages.parse(await channel.receive())
            if isinstance(message, messages.Error):
                raise PeerRefused(f"laptop {report.peer[:8]} refused: {message.message}")
            if isinstance(message, messages.Batch) and not their_done:
                verified = await asyncio.to_thread(verifier.check, message)
                crashpoint("sync.recv.after_verify")
                if applying:
                    await applied()
                # Not awaited yet: the next batch arrives and is verified while this one commits.
                applying = asyncio.ensure_future(store.aingest(verified.entries, verified.checkpoints,
                                                               verified.certificates))
            elif isinstance(message, messages.Done) and not their_done:
                their_done = True
                if applying:
                    await applied()
                    applying = None
                await channel.send(messages.dump(messages.Ack(vector=await asyncio.to_thread(store.version_vector))))
            elif isinstance(message, messages.Ack) and not acked:
                acked = True
                report.peer_vector = dict(message.vector)
            else:
                raise ProtocolError(f"unexpected {message.kind} message")
    except FieldkitError as exc:
        # The batch before this message may have been refused as it was applied (an entry that does
        # not match its hash): that refusal came first, so it is the one told, not lost unread.
        if applying is not None:
            await asyncio.wait([applying])
            failed = None if applying.cancelled() else applying.exception()
            if failed is not None and failed is not exc:
                raise failed from None
        raise
    finally:
        if applying is not None and not applying.done():
            await asyncio.wait([applying])  # a batch handed to the writer commits whole either way


async def _expect(channel: Channel, kind: type[messages.Hello]) -> messages.Hello:
    message = messages.parse(await channel.receive())
    if isinstance(message, messages.Error):
        raise PeerRefused(f"the other laptop refused: {message.message}")
    if not isinstance(message, kind):
        raise ProtocolError(f"expected hello, got {message.kind}")
    return message


async def _last_word(channel: Channel) -> str:
    """The reason in an `error` frame still buffered from a peer that hung up, if there is one."""
    channel.timeout = 1.0
    try:
        for _ in range(64):  # frames it sent before refusing are skipped, not applied
            message = await channel.receive()
            if message.get("kind") == "error" and isinstance(message.get("message"), str):
                return message["message"][:500]
    except ProtocolError:
        pass
    return ""


async def _tell(channel: Channel, why: str) -> None:
    """Say why we end the session, so the other side shows a reason rather than a dropped line."""
    try:
        await channel.send(messages.dump(messages.Error(message=why[:500])))
    except (ConnectionError, OSError, ProtocolError):
        pass
