"""The hub's HTTP interface: the LAN sync protocol's messages, one request each (DESIGN decision 3).

A laptop posts its `hello` (the hub answers with its own: protocol, vector), then `batch`es of
what the hub's vector lacks; each is verified exactly as a peer verifies it (fieldkit.sync.verify),
stored in one transaction, and answered with an `ack` holding the hub's vector after the commit.
So a batch sent twice is stored once and acknowledged twice, and an upload cut anywhere resumes
from the last acknowledgement. `pull` sends entries back down the same way.

Bodies are the protocol's frames (`application/vnd.fieldkit.frame`: length, flag, zlib JSON),
never HTTP's Content-Encoding, whose automatic inflation has no size limit. Laptops prove who
they are with their network certificate in mutual TLS; `/health` and `/openapi.json` need none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import ChainError
from fieldkit.hub.openapi import OPENAPI
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.store.hlc import wall_ms
from fieldkit.store.journal import SCHEMA_VERSION, verify_hash
from fieldkit.sync import certs, messages
from fieldkit.sync.forks import refuse_forks
from fieldkit.sync.membership import Membership
from fieldkit.sync.verify import Refused, Verified, Verifier
from fieldkit.sync.wire import FRAME, MAX_FRAME, ProtocolError, encode, unframe

log = logging.getLogger("fieldkit.hub")

STORAGE = web.AppKey("storage", HubStorage)
IDENTITY = web.AppKey("identity", Membership)
SETTINGS = web.AppKey("settings", HubSettings)
INGEST = web.AppKey("ingest", asyncio.Semaphore)
DEVICE = web.RequestKey("device", str)  # for the log line: who called, how many entries
ENTRIES = web.RequestKey("entries", int)
REASON = web.ResponseKey("reason", str)  # why a request was refused, for its log line (ASVS 16.3.3)


def frame_response(message: messages._Message, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=encode(messages.dump(message)), status=status, content_type=FRAME, headers=headers)


def refusal(status: int, why: str, **headers: str) -> web.Response:
    response = frame_response(messages.Error(message=why[:500]), status, headers or None)
    response[REASON] = why[:500]
    return response


@web.middleware
async def guarded(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Time limit, one-line refusals, and one structured log line per request."""
    started = time.perf_counter()
    settings = request.app[SETTINGS]
    try:
        async with asyncio.timeout(settings.request_seconds):
            response = await handler(request)
    except TimeoutError:
        response = refusal(503, f"the hub took longer than {settings.request_seconds:.0f} s: send again",
                           **{"Retry-After": "5"})
    except ProtocolError as exc:
        response = refusal(400, str(exc))
    except Refused as exc:
        response = refusal(403, str(exc))
    except ChainError as exc:  # a gap or a second history: the laptop resumes from the hub's vector
        response = refusal(409, str(exc))
    except web.HTTPException as exc:  # answered here, so that it is logged like any other
        if exc.status == 413:
            response = refusal(413, f"request body over the {MAX_FRAME} byte limit")
        else:
            # With its own headers: a 405 names the methods allowed (RFC 9110), as schemathesis checks.
            kept = {name: value for name, value in exc.headers.items() if name.lower() != "content-type"}
            response = web.Response(status=exc.status, text=exc.text, headers=kept)
            response[REASON] = exc.text or exc.reason
    log.info(json.dumps({"method": request.method, "path": request.path, "status": response.status,
                         "ms": round((time.perf_counter() - started) * 1e3, 1), "device": request.get(DEVICE, ""),
                         "entries": request.get(ENTRIES, 0), "peer": request.remote or "",
                         "reason": response.get(REASON, "")}))
    return response


def caller(request: web.Request) -> str:
    """The device id the caller's certificate proves; HTTP 401/403 otherwise."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None or not ssl_object.getpeercert(binary_form=True):
        raise web.HTTPUnauthorized(text="a laptop shows its network certificate (mutual TLS)")
    try:
        device = certs.peer_device(ssl_object, request.app[IDENTITY].network)
    except certs.CertificateRefused as exc:
        raise web.HTTPForbidden(text=str(exc)) from None
    request[DEVICE] = device
    return device


async def message(request: web.Request, kind: type, device: str) -> Any:
    """The request's message, of `kind`, from a laptop that is not revoked."""
    if request.content_type != FRAME:
        raise ProtocolError(f"send {FRAME}, not {request.content_type}")
    body = await request.read()
    # Off the loop: a 5,000-entry batch takes tens of milliseconds to inflate and validate.
    parsed = await asyncio.to_thread(lambda: messages.parse(unframe(body)))
    if not isinstance(parsed, kind):
        raise ProtocolError(f"expected {kind.__name__.lower()}, got {parsed.kind}")
    if device in await asyncio.to_thread(request.app[STORAGE].revoked):
        raise Refused("this laptop was revoked from the network")
    return parsed


async def hello(request: web.Request) -> web.StreamResponse:
    device = caller(request)
    storage, identity = request.app[STORAGE], request.app[IDENTITY]
    theirs = await message(request, messages.Hello, device)
    if theirs.protocol != messages.PROTOCOL:
        return refusal(400, f"this hub speaks sync protocol {messages.PROTOCOL}, the laptop {theirs.protocol}: "
                            "update fieldkit on the older one")
    if theirs.network != identity.network.id or theirs.device != device:
        raise Refused("the hello names another laptop or network than its certificate")
    await asyncio.to_thread(storage.record_contact, device, request.remote or "", theirs.vector)
    vector = await asyncio.to_thread(storage.version_vector)
    try:
        await asyncio.to_thread(refuse_forks, storage, vector, theirs.vector, theirs.heads)
    except Refused as exc:
        return refusal(409, str(exc))
    heads = await asyncio.to_thread(storage.hashes, vector)
    return frame_response(messages.Hello(protocol=messages.PROTOCOL, schema=SCHEMA_VERSION,
                                         network=identity.network.id, device=identity.device_id,
                                         clock=wall_ms(), vector=vector, heads=heads))


async def batch(request: web.Request) -> web.StreamResponse:
    device = caller(request)
    app = request.app
    storage, settings = app[STORAGE], app[SETTINGS]
    received = await message(request, messages.Batch, device)
    request[ENTRIES] = len(received.entries)
    # Backpressure: a store that is behind says so at once, rather than queueing uploads
    # until every laptop's request times out.
    try:
        async with asyncio.timeout(settings.queue_seconds):
            await app[INGEST].acquire()
    except TimeoutError:
        return refusal(503, "the hub is busy storing other uploads: send this batch again shortly",
                       **{"Retry-After": str(settings.retry_after)})
    try:
        verified = await asyncio.to_thread(_verified, storage, app[IDENTITY], received)
        crashpoint("hub.upload.before_store")
        stored = await asyncio.to_thread(storage.ingest, verified.entries, verified.checkpoints, verified.certificates)
        crashpoint("hub.upload.after_store")
    finally:
        app[INGEST].release()
    await asyncio.to_thread(storage.record_upload, device, stored.applied)
    # Only the batch's origins: a whole vector of a large network would outweigh a small batch.
    return frame_response(messages.Ack(vector=stored.heads))


def _verified(storage: HubStorage, identity: Membership, received: messages.Batch) -> Verified:
    """What a peer checks, and each entry's own hash: an altered entry is refused (403), not
    taken for a gap in the chain (409) that re-sending could mend."""
    verified = Verifier(storage, identity.network).check(received)
    try:
        for entry in verified.entries:
            verify_hash(entry)
    except ChainError as exc:
        raise Refused(str(exc)) from None
    return verified


async def pull(request: web.Request) -> web.StreamResponse:
    device = caller(request)
    storage, settings = request.app[STORAGE], request.app[SETTINGS]
    theirs = await message(request, messages.Ack, device)
    out = await asyncio.to_thread(storage.outgoing, theirs.vector, settings.pull_limit)
    if not out.entries:
        return frame_response(messages.Done())
    request[ENTRIES] = len(out.entries)
    return frame_response(messages.batch(out))


async def devices(request: web.Request) -> web.StreamResponse:
    caller(request)
    return web.json_response(await asyncio.to_thread(request.app[STORAGE].devices))


async def health(request: web.Request) -> web.StreamResponse:
    storage = request.app[STORAGE]
    try:
        entries = await asyncio.to_thread(storage.count)
    except Exception as exc:  # noqa: BLE001 - the store is down: say so, with a status a monitor reads
        return web.json_response({"status": "unavailable", "storage": storage.kind, "error": str(exc)[:200]},
                                 status=503)
    return web.json_response({"status": "ok", "storage": storage.kind, "entries": entries,
                              "network": request.app[IDENTITY].network.id})


async def openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(OPENAPI)


def create_app(settings: HubSettings, storage: HubStorage, identity: Membership) -> web.Application:
    # The body limit is checked by aiohttp before a byte is buffered past it (HTTP 413).
    app = web.Application(client_max_size=MAX_FRAME + 5, middlewares=[guarded])
    app[SETTINGS], app[STORAGE], app[IDENTITY] = settings, storage, identity
    app[INGEST] = asyncio.Semaphore(settings.max_ingest)
    app.router.add_post("/v1/hello", hello)
    app.router.add_post("/v1/batch", batch)
    app.router.add_post("/v1/pull", pull)
    app.router.add_get("/v1/devices", devices)
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    return app


def tls_context(identity: Membership):
    """Mutual TLS where a certificate is asked for but not required at the handshake, so that
    `/health` answers a monitor; every sync route refuses a caller without one."""
    import ssl

    context = identity.context(server=True)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class Hub:
    """The hub running on a port until stopped: for `fieldkit hub serve` and the tests."""

    def __init__(self, settings: HubSettings, storage: HubStorage, identity: Membership) -> None:
        self.settings, self.storage, self.identity = settings, storage, identity
        self.port = settings.port
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "Hub":
        self._runner = web.AppRunner(create_app(self.settings, self.storage, self.identity),
                                     keepalive_timeout=75, shutdown_timeout=10, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, ssl_context=tls_context(self.identity),
                           backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    @property
    def app(self) -> web.Application:
        assert self._runner is not None, "the hub is not running"
        return self._runner.app

    async def __aexit__(self, *exc) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
