"""Sessions over mutual TLS: accepting peers, and calling one.

Both ends prove who they are with their enrolment certificate during the TLS 1.3 handshake (a
laptop of another network fails there), then each checks the proven device against its
revocations before the first message: a revoked laptop learns why and receives nothing.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

from fieldkit.errors import FieldkitError
from fieldkit.store.db import Store
from fieldkit.sync import certs, messages
from fieldkit.sync.membership import Membership
from fieldkit.sync.session import Report, exchange
from fieldkit.sync.wire import Channel

CONNECT_TIMEOUT = 10.0
log = logging.getLogger(__name__)


class Revoked(FieldkitError):
    pass


Progress = Callable[[Report], None]


async def _refuse_if_revoked(channel: Channel, store: Store, peer: str) -> None:
    if peer in await asyncio.to_thread(store.revoked):
        await channel.send(messages.dump(messages.Error(message="this laptop was revoked from the network")))
        raise Revoked(f"laptop {peer[:8]} was revoked: refused")


async def _session(channel: Channel, store: Store, member: Membership, address: str,
                   progress: Progress | None, expect: str | None = None,
                   proven: Callable[[str], None] = lambda peer: None) -> Report:
    """One session; `proven(peer)` is told who is at the other end as soon as TLS has proven it."""
    peer = None
    try:
        peer = certs.peer_device(channel.writer.get_extra_info("ssl_object"), member.network)
        proven(peer)
        await _refuse_if_revoked(channel, store, peer)
        if expect and peer != expect:
            raise certs.CertificateRefused(f"expected laptop {expect[:8]} at {address}, found {peer[:8]}")
        report = await exchange(channel, store, member, peer, progress=progress)
    except FieldkitError as exc:
        if peer:
            await asyncio.to_thread(store.record_peer, peer, address=address, vector=None, error=str(exc))
        raise
    finally:
        await channel.close()
    await asyncio.to_thread(store.record_peer, peer, address=address, vector=report.peer_vector,
                            sent=report.sent, received=report.received)
    return report


async def sync_with(store: Store, member: Membership, host: str, port: int, *, expect: str | None = None,
                    progress: Progress | None = None, timeout: float = 60.0) -> Report:
    """One session with the laptop listening at host:port; its report, or one line saying why not."""
    address = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=member.context(server=False)), CONNECT_TIMEOUT)
    except ssl.SSLError as exc:
        raise certs.CertificateRefused(f"{address} is not a laptop of {member.network.name} ({exc.reason})") from None
    except (TimeoutError, OSError) as exc:
        raise FieldkitError(f"cannot reach {address}: {exc.strerror or 'no answer'}") from None
    return await _session(Channel(reader, writer, timeout=timeout), store, member, address, progress, expect)


STREAM_LIMIT = 2**16  # asyncio.start_server's own


class _Unread(asyncio.StreamReaderProtocol):
    """A stream that reads nothing until TLS starts on it, so the handshake sees every byte."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()  # start_tls resumes it
        super().connection_made(transport)


class Server:
    """Accepts sessions from enrolled laptops; each accepted session runs on its own."""

    def __init__(self, store: Store, member: Membership, *, host: str = "0.0.0.0", port: int = 0,
                 on_session: Callable[[Report | None, str, Exception | None], Awaitable[None] | None] | None = None,
                 progress: Progress | None = None, timeout: float = 60.0) -> None:
        self.store, self.member, self.host, self.port = store, member, host, port
        self.on_session, self.progress, self.timeout = on_session, progress, timeout
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task] = set()
        self.in_session: set[str] = set()  # laptops whose session with us is under way
        self.refused = 0  # connections refused before a session: no certificate, another network, old TLS
        self._context = member.context(server=True)

    async def start(self) -> None:
        # TLS is started by `_accept`, not by the listener: a handshake the listener fails is
        # dropped without a word, and a spoofed or stray laptop must be seen (T8).
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Unread(asyncio.StreamReader(limit=STREAM_LIMIT), self._accept), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting and end sessions in flight; what they committed stays, the rest is re-sent."""
        if self._server:
            self._server.close()
            for task in self._sessions:
                task.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> "Server":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        report: Report | None = None
        error: Exception | None = None
        task = asyncio.current_task()
        assert task is not None  # a connection callback runs as a task of its own
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)
        try:
            await asyncio.wait_for(writer.start_tls(self._context), CONNECT_TIMEOUT)
        except asyncio.CancelledError:
            writer.transport.abort()
            return
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            writer.transport.abort()
            self.refused += 1
            await self._tell(None, f"{host}:{port}", certs.CertificateRefused(f"refused: {handshake_refusal(exc)}"))
            return
        peers: list[str] = []

        def proven(peer: str) -> None:
            peers.append(peer)
            self.in_session.add(peer)
        try:
            report = await _session(Channel(reader, writer, timeout=self.timeout), self.store, self.member,
                                    f"{host}:{port}", self.progress, proven=proven)
        except asyncio.CancelledError:
            self.in_session.difference_update(peers)
            return  # stopping: a cancelled connection callback would be logged as a crash by asyncio
        except (FieldkitError, ConnectionError, OSError, ssl.SSLError) as exc:
            error = exc
        except Exception as exc:  # one session's failure (a database error) ends that session only
            log.exception("session with %s:%s failed", host, port)
            error = exc
        try:
            await self._tell(report, f"{host}:{port}", error)
        finally:
            # Only once its outcome is told: the engine, woken by the entries this session committed,
            # must judge the peer by the vector the session ended with, not the one before it.
            self.in_session.difference_update(peers)

    async def _tell(self, report: Report | None, address: str, error: Exception | None) -> None:
        if self.on_session:
            result = self.on_session(report, address, error)
            if asyncio.iscoroutine(result):
                await result


# What a refused handshake means, in words a supervisor can act on (OpenSSL's reason codes).
REFUSALS = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "it showed no certificate",
    "CERTIFICATE_VERIFY_FAILED": "its certificate is not from this network",
    "TLSV1_ALERT_UNKNOWN_CA": "it does not trust this network's certificate (a laptop of another network?)",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it refused this laptop's certificate",
    "UNSUPPORTED_PROTOCOL": "it does not speak TLS 1.3",
    "TLSV1_ALERT_PROTOCOL_VERSION": "it does not speak TLS 1.3",
    "WRONG_VERSION_NUMBER": "it does not speak TLS",
    "HTTP_REQUEST": "it speaks plain HTTP, not TLS",
}


def handshake_refusal(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no TLS handshake within 10 s"
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) and reason:
        return REFUSALS.get(reason, reason.lower().replace("_", " "))
    if isinstance(exc, ConnectionError):
        return "it hung up during the handshake (a laptop of another network does)"
    return f"the connection failed during the handshake ({exc.__class__.__name__})"

