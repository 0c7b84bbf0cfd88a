"""The hub's HTTP interface: the LAN sync protocol's messages, one request each (DESIGN decision 3).

A laptop posts its `hello` (the hub answers with its own: protocol, vector), then `batch`es of
what the hub's vector lacks; each is verified exactly as a peer verifies it (fieldkit.sync.verify),
stored in one transaction, and answered with an `ack` holding the hub's vector after the commit.
So a batch sent twice is stored once and acknowledged twice, and an upload cut anywhere resumes
from the last acknowledgement. `pull` sends entries back down the same way.

Bodies are the protocol's frames (`application/vnd.fieldkit.frame`: length, flag, zlib JSON),
never HTTP's Content-Encoding, whose automatic inflation has no size limit. Laptops prove who
they are with their network certificate in mutual TLS; `/health` and `/openapi.json` need none.

Programme managers' reports (`/v1/reports`, `/v1/export/...`) are read from tables the hub derives
from a replica of the journal it holds (hub/replica.py, refreshed in the background a moment after
uploads), for a supervisor signed in on an enrolled laptop (`supervisor` says how that is trusted).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import ChainError, FieldkitError
from fieldkit.hub import report_files, reports
from fieldkit.hub.openapi import OPENAPI
from fieldkit.hub.replica import Refresher, Replica
from fieldkit.hub.replica import log as replica_log
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
REPLICA = web.AppKey("replica", Replica)
REFRESHER = web.AppKey("refresher", Refresher)
USER_HEADER = "X-Fieldkit-User"  # the id of the user signed in on the calling laptop
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
    if stored.applied and REFRESHER in app:
        app[REFRESHER].poke()  # the reports catch up a moment later, off this request's path
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


# -- reports and exports, for a supervisor ---------------------------------------------------------

async def supervisor(request: web.Request) -> str:
    """The supervisor on whose behalf an enrolled laptop asks; HTTP 401/403 otherwise.

    The hub has no passwords of the laptops' users. The laptop proves which laptop it is with its
    network certificate (mutual TLS, `caller`), and its user signed in on it with a passphrase;
    the laptop names that user in the X-Fieldkit-User header and so vouches for them, as it vouches
    for every entry it uploads under their name. The hub believes the laptop only as far as the
    records it holds allow: the user must be a supervisor in the role history the hub holds (the
    same one sync verifies entries against), not revoked, and the laptop not revoked either. A
    stolen laptop is revoked, and from then on refused here as everywhere."""
    device = caller(request)
    storage = request.app[STORAGE]
    user = request.headers.get(USER_HEADER, "").strip()
    if not user:
        raise web.HTTPUnauthorized(text=f"say which supervisor asks, in the {USER_HEADER} header")
    revoked, history, cutoffs = await asyncio.gather(asyncio.to_thread(storage.revoked),
                                                     asyncio.to_thread(storage.role_history, [user]),
                                                     asyncio.to_thread(storage.cutoffs))
    if device in revoked:
        raise web.HTTPForbidden(text="this laptop was revoked from the network")
    roles = history.get(user, [])
    if not roles or roles[-1][1] != "supervisor" or user in cutoffs.users:
        raise web.HTTPForbidden(text="reports are for a supervisor; this user is not one")
    return user


def _asked(request: web.Request, *reserved: str) -> dict[str, str]:
    """The query's filters: every parameter but the ones the route reads itself."""
    return {name: value for name, value in request.query.items() if name not in reserved}


async def _blocking(job: Callable[[], Any]) -> Any:
    try:
        return await asyncio.to_thread(job)
    except FieldkitError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


def _report_json(report: reports.Report) -> dict[str, Any]:
    return {"report": report.definition.ref, "title": report.definition.title, "unit": report.unit,
            "parameters": report.parameters, "generated_at": report.generated_at, "columns": list(report.columns),
            "rows": list(report.rows), "total": report.total,
            "stale_devices": [{"device": device, "last_heard": last} for device, last in report.stale_devices]}


async def report_list(request: web.Request) -> web.StreamResponse:
    await supervisor(request)
    return web.json_response([{"id": d.id, "version": d.version, "ref": d.ref, "title": d.title, "unit": d.unit,
                               "columns": list(d.columns), "filters": list(reports.filters_of(d)),
                               "groups": list(reports.groups(d))} for d in reports.DEFINITIONS.values()])


async def report(request: web.Request) -> web.StreamResponse:
    """A line list, counts `by` a grouping, or counts `over` time; as JSON, CSV or XLSX."""
    await supervisor(request)
    storage, stale_days = request.app[STORAGE], request.app[SETTINGS].stale_days
    asked = _asked(request, "by", "over", "format", "csv", "limit")
    kind, by, over = request.query.get("format", "json"), request.query.get("by"), request.query.get("over")
    if kind not in ("json", "csv", "xlsx"):
        raise web.HTTPBadRequest(text="format is json, csv or xlsx")
    flavour = "xlsx" if kind == "xlsx" else request.query.get("csv", "excel")
    try:
        limit = int(request.query["limit"]) if "limit" in request.query else 1000 if kind == "json" else None
    except ValueError:
        limit = -1
    if limit is not None and limit < 0:
        raise web.HTTPBadRequest(text="limit is a number of rows")
    report_id = request.match_info["report"]
    if over:
        made = await _blocking(lambda: reports.over_time(storage, report_id, asked, period=over, stale_days=stale_days))
    elif by:
        made = await _blocking(lambda: reports.counts(storage, report_id, by, asked, stale_days=stale_days))
    else:
        made = await _blocking(lambda: reports.line_list(storage, report_id, asked, limit=limit, stale_days=stale_days))
    if kind == "json":
        return web.json_response(await asyncio.to_thread(_report_json, made))
    if flavour not in report_files.FORMATS:
        raise web.HTTPBadRequest(text="csv is excel or data")
    return await send_report(request, made, flavour)


async def send_report(request: web.Request, made: reports.Report, flavour: str) -> web.StreamResponse:
    """The report as a file of `flavour` (report_files.FORMATS), streamed: for laptops and the pages (hub/web)."""
    name = f"{made.definition.id}-{made.generated_at[:10]}{report_files.SUFFIX[flavour]}"
    response = web.StreamResponse(headers={"Content-Type": report_files.MEDIA[flavour],
                                           "Content-Disposition": f'attachment; filename="{name}"',
                                           "Cache-Control": "no-store"})
    if flavour == "xlsx":  # a zip is written whole; its sheet was built in constant memory
        out = io.BytesIO()
        await asyncio.to_thread(report_files.write_xlsx, made, out)
        await response.prepare(request)
        await response.write(out.getvalue())
    else:
        await response.prepare(request)
        pieces = report_files.csv_pieces(made, flavour)
        while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
            await response.write(piece)
    await response.write_eof()
    return response


async def export_dhis2(request: web.Request) -> web.StreamResponse:
    """One month's indicators as a DHIS2 data value set (idScheme CODE), JSON or CSV."""
    from fieldkit.export import dhis2

    await supervisor(request)
    storage, settings = request.app[STORAGE], request.app[SETTINGS]
    kind = request.query.get("format", "json")
    if kind not in ("json", "csv"):
        raise web.HTTPBadRequest(text="format is json or csv")

    def made() -> dict[str, Any]:
        own = settings.data / "dhis2.toml"
        mapping = dhis2.load_mapping(own if own.exists() else None)
        month = reports.month_of(request.query.get("period", ""))
        return dhis2.data_value_set(reports.dhis2_counts(storage, mapping, month), mapping, period=month)

    value_set = await _blocking(made)
    if kind == "json":
        return web.json_response(value_set)
    return web.Response(text=dhis2.to_csv(value_set), content_type="text/csv", charset="utf-8")


async def export_fhir(request: web.Request) -> web.StreamResponse:
    """The replica as a FHIR R4 Bundle, streamed as it is made (fieldkit.export.fhir), in one read
    snapshot. `since`: a date and time, or the X-Fieldkit-Next-Since an earlier export answered
    with (a version vector, as JSON): then only what changed after it."""
    from fieldkit.export import fhir
    from fieldkit.export.fhir_bundle import KINDS
    from fieldkit.export.fhir_since import read_vector

    await supervisor(request)
    if REPLICA not in request.app:
        raise web.HTTPServiceUnavailable(text="this hub keeps no replica (it has no key for one): no FHIR export")
    replica, kind, since = request.app[REPLICA], request.query.get("type", "collection"), request.query.get("since", "")
    if kind not in KINDS:
        raise web.HTTPBadRequest(text=f"type is one of {', '.join(KINDS)}")
    pieces: queue.Queue[Any] = queue.Queue(maxsize=16)
    gone = threading.Event()  # the response ended: the producer stops at its next piece

    def hand(item: Any) -> None:
        while not gone.is_set():
            try:
                pieces.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def produce(conn: Any) -> None:  # on a reader of the replica
        after = read_vector(since) if since.strip().startswith("{") else fhir.vector_at(conn, since) if since else None
        hand(fhir.next_since(conn))
        for piece in fhir.stream(conn, kind=kind, since=after):
            if gone.is_set():
                return
            hand(piece)

    def run() -> None:
        try:
            replica.store.read(produce)
            hand(None)
        except Exception as exc:  # noqa: BLE001 - handed to the response: a refusal, or an export cut short
            hand(exc)

    producing = asyncio.get_running_loop().run_in_executor(None, run)
    try:
        first = await asyncio.to_thread(pieces.get)
        if isinstance(first, FieldkitError):
            raise web.HTTPBadRequest(text=str(first))
        if isinstance(first, Exception):
            raise first
        response = web.StreamResponse(headers={"Content-Type": "application/fhir+json", "Cache-Control": "no-store",
                                               "X-Fieldkit-Next-Since": json.dumps(first, sort_keys=True)})
        await response.prepare(request)
        while (piece := await asyncio.to_thread(pieces.get)) is not None:
            if isinstance(piece, Exception):
                logging.getLogger("fieldkit.hub.export").error("the FHIR export stopped: %s", piece)  # the bundle is left unclosed: invalid JSON
                break
            await response.write(piece)
        await response.write_eof()
        return response
    finally:
        gone.set()
        await producing


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


def create_app(settings: HubSettings, storage: HubStorage, identity: Membership,
               refresher: Refresher | None = None) -> web.Application:
    # The body limit is checked by aiohttp before a byte is buffered past it (HTTP 413).
    app = web.Application(client_max_size=MAX_FRAME + 5, middlewares=[guarded])
    app[SETTINGS], app[STORAGE], app[IDENTITY] = settings, storage, identity
    app[INGEST] = asyncio.Semaphore(settings.max_ingest)
    if refresher is not None:
        app[REFRESHER], app[REPLICA] = refresher, refresher.replica
    app.router.add_post("/v1/hello", hello)
    app.router.add_post("/v1/batch", batch)
    app.router.add_post("/v1/pull", pull)
    app.router.add_get("/v1/devices", devices)
    app.router.add_get("/v1/reports", report_list)
    app.router.add_get("/v1/reports/{report}", report)
    app.router.add_get("/v1/export/dhis2", export_dhis2)
    app.router.add_get("/v1/export/fhir", export_fhir)
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    return app


def create_pages_app(settings: HubSettings, storage: HubStorage) -> web.Application:
    """The programme managers' pages (hub/web) at /ui, alone on a port of their own: a browser cannot
    take the laptops' port's Ed25519 certificate (hub/web/certificate.py)."""
    from fieldkit.hub.web.pages import FORM_LIMIT, application  # here: the pages log through REASON, above

    async def home(request: web.Request) -> web.StreamResponse:
        return web.Response(status=303, headers={"Location": "/ui/"})

    app = web.Application(client_max_size=FORM_LIMIT, middlewares=[guarded])
    app[SETTINGS], app[STORAGE] = settings, storage
    app.router.add_get("/", home)
    app.add_subapp("/ui", application(storage, settings))
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

    def __init__(self, settings: HubSettings, storage: HubStorage, identity: Membership, *,
                 reuse_port: bool = False) -> None:
        self.settings, self.storage, self.identity = settings, storage, identity
        # SO_REUSEPORT on both ports: several processes on one PostgreSQL listen on the same port,
        # and the kernel spreads new connections over them.
        self.reuse_port = reuse_port
        self.port = settings.port
        self._runner: web.AppRunner | None = None
        self._pages: web.AppRunner | None = None
        self.pages_port: int | None = None  # where the pages listen, once started (None: no pages)
        self.refresher: Refresher | None = None

    async def __aenter__(self) -> "Hub":
        try:  # the reports' replica, under the hub's key; a hub given none serves without refreshing them
            replica = await asyncio.to_thread(Replica.open, self.settings)
        except FieldkitError as exc:
            # On the replica's logger: "fieldkit.hub" itself says one line per request, nothing else.
            replica_log.warning(json.dumps({"replica": "none: reports are not refreshed", "reason": str(exc)}))
        else:
            self.refresher = Refresher(self.storage, replica, self.settings.refresh_seconds)
        self._runner = web.AppRunner(create_app(self.settings, self.storage, self.identity, self.refresher),
                                     keepalive_timeout=75, shutdown_timeout=10, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, ssl_context=tls_context(self.identity),
                           backlog=1024, reuse_port=self.reuse_port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.settings.pages_at is not None:
            from fieldkit.hub.web import certificate

            self._pages = web.AppRunner(create_pages_app(self.settings, self.storage), keepalive_timeout=75,
                                        shutdown_timeout=10, access_log=None)
            await self._pages.setup()
            pages_tls = await asyncio.to_thread(certificate.context, self.settings.data, self.settings.host)
            await web.TCPSite(self._pages, self.settings.host, self.settings.pages_at, ssl_context=pages_tls,
                              reuse_port=self.reuse_port).start()
            self.pages_port = self._pages.addresses[0][1]
        if self.refresher is not None:
            self.refresher.start()
        return self

    @property
    def app(self) -> web.Application:
        assert self._runner is not None, "the hub is not running"
        return self._runner.app

    async def __aexit__(self, *exc) -> None:
        if self._pages is not None:
            await self._pages.cleanup()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.refresher is not None:
            await self.refresher.stop()
            await asyncio.to_thread(self.refresher.replica.close)
