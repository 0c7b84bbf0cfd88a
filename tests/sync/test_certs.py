"""Network certificates and mutual TLS 1.3 between laptops, over real sockets on loopback."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from cryptography import x509

from fieldkit.errors import FieldkitError
from fieldkit.sync.certs import CertificateRefused, create_network, enrol, peer_device, tls_context, verify
from fieldkit.sync.identity import new_device_key, public_key


def laptop(network_key, network):
    key, device = new_device_key()
    return key, device, enrol(network_key, network, public_key(key))


@pytest.fixture
def clinic_net():
    return create_network("Soc Trang mobile clinics")


def test_a_certificate_proves_its_device_for_its_network_only(clinic_net):
    network_key, network = clinic_net
    _key, device, cert = laptop(network_key, network)
    assert verify(cert, network) == device
    _other_key, other = create_network("another programme")
    with pytest.raises(CertificateRefused, match="not signed by network another programme"):
        verify(cert, other)
    with pytest.raises(CertificateRefused, match="not a certificate"):
        verify(b"junk", network)


def test_only_the_network_key_can_enrol(clinic_net):
    _network_key, network = clinic_net
    stranger_key, _stranger = create_network("stranger")
    with pytest.raises(FieldkitError, match="not the network's key"):
        enrol(stranger_key, network, public_key(new_device_key()[0]))


@pytest.mark.parametrize("where", [120, -10], ids=["signed part", "signature"])
def test_a_tampered_certificate_is_refused(clinic_net, where):
    network_key, network = clinic_net
    _key, _device, cert = laptop(network_key, network)
    der = bytearray(x509.load_pem_x509_certificate(cert).public_bytes(encoding=_der()))
    der[where] ^= 1
    with pytest.raises(CertificateRefused):
        verify(bytes(der), network)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # a flipped sign bit: cryptography warns, then we refuse
def test_every_single_bit_flip_of_a_certificate_is_refused_in_words(clinic_net):
    """Each of a certificate's bits flipped in turn, including those its signature does not cover
    (the outer algorithm, the BIT STRING header) and those that stop it parsing (the version):
    always CertificateRefused, never another exception (a hub's 500) and never accepted (T10)."""
    network_key, network = clinic_net
    _key, _device, cert = laptop(network_key, network)
    der = x509.load_pem_x509_certificate(cert).public_bytes(encoding=_der())
    accepted = []
    for bit in range(len(der) * 8):
        flipped = bytearray(der)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            verify(bytes(flipped), network)
        except CertificateRefused:
            continue
        accepted.append(bit)
    assert accepted == []


def test_a_certificate_outlives_a_wrong_clock(clinic_net):
    network_key, network = clinic_net
    _key, _device, cert = laptop(network_key, network)
    parsed = x509.load_pem_x509_certificate(cert)
    assert parsed.not_valid_before_utc.year <= 2017 and parsed.not_valid_after_utc.year >= 2100


def _der():
    from cryptography.hazmat.primitives import serialization
    return serialization.Encoding.DER


async def handshake(server_side, client_side, network):
    """Serve once on loopback; return (device the server saw, device the client saw) or raise."""
    seen = asyncio.get_running_loop().create_future()

    async def accept(reader, writer):
        try:
            seen.set_result(peer_device(writer.get_extra_info("ssl_object"), network))
            writer.write(b"ok")
            await writer.drain()
        except Exception as exc:  # the test reads it back from the future
            seen.set_exception(exc)
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=server_side)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_side)
        client_saw = peer_device(writer.get_extra_info("ssl_object"), network)
        assert await reader.read() == b"ok"
        writer.close()
        return await asyncio.wait_for(seen, 5), client_saw
    finally:
        server.close()
        await server.wait_closed()


async def test_two_enrolled_laptops_handshake_and_prove_their_ids(clinic_net):
    network_key, network = clinic_net
    a_key, a, a_cert = laptop(network_key, network)
    b_key, b, b_cert = laptop(network_key, network)
    server = tls_context(server=True, device_key=a_key, certificate=a_cert, network=network)
    client = tls_context(server=False, device_key=b_key, certificate=b_cert, network=network)
    assert await handshake(server, client, network) == (b, a)


@pytest.mark.parametrize("who", ["another network", "self-made"])
async def test_a_laptop_from_elsewhere_is_refused_at_the_handshake(clinic_net, who):
    network_key, network = clinic_net
    a_key, _a, a_cert = laptop(network_key, network)
    if who == "another network":
        outsider_key, outsider_net = create_network("another programme")
    else:  # a laptop that made its own "network" with the same name to look enrolled
        outsider_key, outsider_net = create_network(network.name)
    x_key, _x, x_cert = laptop(outsider_key, outsider_net)
    server = tls_context(server=True, device_key=a_key, certificate=a_cert, network=network)
    client = tls_context(server=False, device_key=x_key, certificate=x_cert, network=outsider_net)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await handshake(server, client, network)
