"""Forwarding to the hub: everything its vector lacks, in batches sized for the link, then what
this laptop lacks from it (revocations, resolutions made at base).

The hub's `hello` gives its vector; each `ack` its heads of the batch's origins once the batch
is stored, and the next batch starts from them. So an upload cut anywhere resumes from the last
ack, and a batch re-sent after a lost reply is stored once. Batches start small and grow while
the link carries them quickly, shrink when it is slow: a satellite link gets a few kilobytes per
request, a LAN at base thousands of entries. The time a batch takes is counted beyond the
quickest answer seen so far, so a long round trip alone does not keep batches small. A laptop
forwards what it holds, whoever made it: a supervisor's laptop carries the others' entries too.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.store.db import Store
from fieldkit.store.hlc import wall_ms
from fieldkit.store.journal import SCHEMA_VERSION
from fieldkit.sync import messages
from fieldkit.sync.forks import refuse_forks
from fieldkit.sync.hub_vector import lacking, remember
from fieldkit.sync.membership import Membership
from fieldkit.sync.verify import Refused, Verifier
from fieldkit.sync.wire import FRAME, ProtocolError, encode, unframe

FIRST_BATCH, MIN_BATCH, MAX_BATCH = 100, 10, 5000
FAST, SLOW = 1.0, 4.0  # seconds per batch under which it grows, over which it shrinks
ATTEMPTS = 6  # tries per request before the round gives up (backoff 0.5 s doubling, jittered)


class HubRefused(FieldkitError):
    """The hub answered, and said no: retrying the same request will not help."""


class HubUnreachable(FieldkitError):
    """No answer from the hub after retries: the next round tries again."""


@dataclass
class PushReport:
    sent: int = 0
    batches: int = 0
    received: int = 0
    pending: int = 0  # entries the hub still lacks, as its last ack said
    batch_sizes: list[int] = field(default_factory=list)
    hub_vector: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def next_size(size: int, seconds: float) -> int:
    if seconds < FAST:
        return min(size * 2, MAX_BATCH)
    if seconds > SLOW:
        return max(size // 2, MIN_BATCH)
    return size


class HubClient:
    """Requests to one hub over mutual TLS, retried with backoff and jitter when it does not answer."""

    def __init__(self, url: str, member: Membership, *, timeout: float = 60.0, attempts: int = ATTEMPTS) -> None:
        self.url, self.member, self.attempts = url.rstrip("/"), member, attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "HubClient":
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.member.context(server=False)),
                                           timeout=self.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("HubClient is used inside `async with`")
        return self._http

    async def post(self, path: str, message: messages._Message, expect: tuple[type, ...]) -> Any:
        body = encode(messages.dump(message))
        for attempt in range(self.attempts):
            try:
                async with self.http.post(self.url + path, data=body, headers={"Content-Type": FRAME}) as response:
                    raw = await response.read()
                    if response.status == 503 or (response.status >= 500 and attempt + 1 < self.attempts):
                        await asyncio.sleep(backoff(attempt, retry_after=response.headers.get("Retry-After")))
                        continue
                    reply = _reply(raw, response)
            except (TimeoutError, aiohttp.ClientError) as exc:  # a reply cut short too
                if attempt + 1 == self.attempts:
                    raise HubUnreachable(f"the hub at {self.url} does not answer ({type(exc).__name__})") from None
                await asyncio.sleep(backoff(attempt))
                continue
            if not isinstance(reply, expect):
                raise HubRefused(f"the hub answered {reply.kind} to {path}")
            return reply
        raise HubUnreachable(f"the hub at {self.url} stayed busy; the next round tries again")


def backoff(attempt: int, *, first: float = 0.5, longest: float = 30.0, retry_after: str | None = None) -> float:
    """Seconds to wait before try `attempt + 1`: the hub's Retry-After if it gave one, else doubling."""
    if retry_after and retry_after.isdigit():
        return float(retry_after) * random.uniform(1.0, 1.5)
    return min(longest, first * 2 ** attempt) * random.uniform(0.5, 1.5)  # jitter: laptops do not retry in step


def _reply(raw: bytes, response: aiohttp.ClientResponse) -> messages._Message:
    if response.content_type != FRAME:
        raise HubRefused(f"the hub refused (HTTP {response.status}): {raw[:200].decode(errors='replace').strip()}")
    try:
        reply = messages.parse(unframe(raw))
    except ProtocolError as exc:
        raise HubRefused(f"the hub sent a malformed reply: {exc}") from None
    if isinstance(reply, messages.Error):
        raise HubRefused(f"the hub refused (HTTP {response.status}): {reply.message}")
    return reply


async def push(store: Store, member: Membership, url: str, *, progress: Callable[[PushReport], None] | None = None,
               first_batch: int = FIRST_BATCH, pull: bool = True, client: HubClient | None = None) -> PushReport:
    """One round with the hub: forward what it lacks, then receive what we lack."""
    report, started = PushReport(), time.perf_counter()
    notify = progress or (lambda report: None)
    async with (client or HubClient(url, member)) as hub:
        ours = await asyncio.to_thread(store.version_vector)
        heads = await asyncio.to_thread(store.hashes, ours)
        sent_at = time.perf_counter()
        theirs = await hub.post("/v1/hello", messages.Hello(
            protocol=messages.PROTOCOL, schema=SCHEMA_VERSION, network=member.network.id, device=member.device_id,
            clock=wall_ms(), vector=ours, heads=heads), (messages.Hello,))
        if theirs.network != member.network.id:
            raise HubRefused("that hub serves another network")
        try:
            await asyncio.to_thread(refuse_forks, store, ours, theirs.vector, theirs.heads)
        except Refused as exc:
            raise HubRefused(str(exc)) from None
        latency = time.perf_counter() - sent_at  # an upper bound on the round trip, lowered as answers come
        vector = dict(theirs.vector)
        await _acknowledged(store, vector)
        await asyncio.to_thread(store.sign_checkpoints, member.sign)
        size = first_batch
        while True:
            out = await asyncio.to_thread(store.outgoing, vector, size)
            if not out.entries:
                break
            sent_at = time.perf_counter()
            ack = await hub.post("/v1/batch", messages.batch(out), (messages.Ack,))
            vector |= ack.vector  # the hub acknowledges the batch's origins only
            crashpoint("hub.push.after_ack")
            await _acknowledged(store, vector)
            report.sent += len(out.entries)
            report.batches += 1
            report.batch_sizes.append(len(out.entries))
            report.pending = lacking(vector, ours)
            notify(report)
            took = time.perf_counter() - sent_at
            latency = min(latency, took)
            size = next_size(size, took - latency)
        if pull and lacking(ours, theirs.vector):  # the hello said whether the hub holds anything new to us
            report.received, pulled = await _pull(store, member, hub)
            # What came from the hub, the hub holds.
            vector |= {origin: max(seq, vector.get(origin, 0)) for origin, seq in pulled.items()}
    await _acknowledged(store, vector, finished=True)
    report.hub_vector = vector
    report.pending = lacking(vector, await asyncio.to_thread(store.version_vector))
    report.seconds = time.perf_counter() - started
    return report


async def _pull(store: Store, member: Membership, hub: HubClient) -> tuple[int, dict[str, int]]:
    """Entries received from the hub, and the highest of each origin among them."""
    verifier, received, tops = Verifier(store, member.network), 0, dict[str, int]()
    while True:
        ours = await asyncio.to_thread(store.version_vector)
        reply = await hub.post("/v1/pull", messages.Ack(vector=ours), (messages.Batch, messages.Done))
        if isinstance(reply, messages.Done):
            return received, tops
        verified = await asyncio.to_thread(verifier.check, reply)
        result = await store.aingest(verified.entries, verified.checkpoints, verified.certificates, user="hub")
        if not result.applied:
            return received, tops  # nothing new though the hub offered entries: stop rather than loop
        received += result.applied
        tops |= {c.origin: c.seq for c in verified.checkpoints}


async def _acknowledged(store: Store, vector: Mapping[str, int], finished: bool = False) -> None:
    await asyncio.to_thread(lambda: remember(store, vector, finished=finished))
