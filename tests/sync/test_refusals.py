"""T8: whoever is refused before a session (another network, no certificate, a look-alike CA, an
old TLS, not TLS at all) is told to the server's owner in one line with its address and why."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from sync_support import network, serving

from fieldkit.sync import certs
from fieldkit.sync.identity import new_device_key, public_key


def client_context(kind: str, ours: certs.Network) -> ssl.SSLContext | None:
    if kind == "plain text":
        return None
    if kind in ("another network", "look-alike CA"):
        name = "another programme" if kind == "another network" else "Soc Trang mobile clinics"
        network_key, other = certs.create_network(name)
        key, _device = new_device_key()
        # A look-alike trusts our network's certificate (no secret) and shows one from its own.
        return certs.tls_context(server=False, device_key=key, network=other if kind == "another network" else ours,
                                 certificate=certs.enrol(network_key, other, public_key(key)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if kind == "TLS 1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context  # "no certificate": TLS 1.3, but nothing to show


REASONS = {
    "no certificate": "it showed no certificate",
    # a laptop of another network does not trust ours: it hangs up, with an alert or without one
    "another network": ("it does not trust this network's certificate (a laptop of another network?)",
                        "it hung up during the handshake (a laptop of another network does)"),
    "look-alike CA": "its certificate is not from this network",
    "TLS 1.2": "it does not speak TLS 1.3",
    "plain text": "it speaks plain HTTP, not TLS",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
async def test_a_refused_connection_is_told_with_its_address_and_reason(tmp_path, kind):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    try:
        async with serving(laptop) as server:
            reader, writer = None, None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port,
                                                              ssl=client_context(kind, laptop.member.network))
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                await asyncio.wait_for(reader.read(), 10)
            except (ssl.SSLError, ConnectionError):
                pass  # refused, as it should be; what matters is what the server says about it
            finally:
                if writer is not None:
                    writer.close()
            report, error = await asyncio.wait_for(server.sessions.get(), 10)
            reasons = REASONS[kind] if isinstance(REASONS[kind], tuple) else (REASONS[kind],)
            assert report is None and str(error) in {f"refused: {reason}" for reason in reasons}
            assert server.refused == 1
    finally:
        laptop.store.close()
