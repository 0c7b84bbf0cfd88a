"""Certificates of a clinic network: the network key vouches for each enrolled laptop's key.

A network is an Ed25519 key that supervisors hold, with a self-signed X.509 certificate: the only
trust anchor a peer accepts. Enrolling a laptop means the network key signs a certificate naming
the laptop's device id (derived from its own Ed25519 key, `identity.device_id`) and the network
id. Peers and the hub use these for mutual TLS 1.3, then check the device id themselves.

Certificates are backdated and long-lived, as Syncthing's are (security.md 2.2): a laptop whose
clock is years off must still handshake, so a certificate ends with a signed revocation that
spreads with sync, never with expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from fieldkit.errors import FieldkitError
from fieldkit.sync.identity import device_id, raw_public

BACKDATE = dt.timedelta(days=366 * 10)
LIFETIME = dt.timedelta(days=366 * 100)
_PEM = serialization.Encoding.PEM


class CertificateRefused(FieldkitError):
    pass


@dataclass(frozen=True)
class Network:
    """What every laptop of a network keeps: its id, name and certificate (not its key)."""

    id: str
    name: str
    certificate: bytes  # PEM

    @classmethod
    def from_certificate(cls, pem: bytes) -> "Network":
        cert = x509.load_pem_x509_certificate(pem)
        key = cert.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise CertificateRefused("a network certificate must carry an Ed25519 key")
        name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return cls(device_id(raw_public(key)), str(name), pem)


def _private(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def _certificate(subject: x509.Name, issuer: x509.Name, public: Ed25519PublicKey, signer: Ed25519PrivateKey,
                 *, authority: bool) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + LIFETIME)
               .add_extension(x509.BasicConstraints(ca=authority, path_length=0 if authority else None),
                              critical=True))
    return builder.sign(signer, None).public_bytes(_PEM)


def create_network(name: str) -> tuple[bytes, Network]:
    """A new network: its private key (raw 32 bytes, for supervisors only) and what laptops keep."""
    if not name.strip():
        raise FieldkitError("a network needs a name")
    key = Ed25519PrivateKey.generate()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name.strip()),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fieldkit network")])
    pem = _certificate(subject, subject, key.public_key(), key, authority=True)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return raw, Network.from_certificate(pem)


def enrol(network_key: bytes, network: Network, device_public: bytes) -> bytes:
    """The certificate (PEM) by which `network` vouches for the laptop holding `device_public`."""
    signer = _private(network_key)
    if device_id(raw_public(signer.public_key())) != network.id:
        raise FieldkitError("this key is not the network's key")
    anchor = x509.load_pem_x509_certificate(network.certificate)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id(device_public)),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, network.id)])
    return _certificate(subject, anchor.subject, Ed25519PublicKey.from_public_bytes(device_public), signer,
                        authority=False)


def verify(certificate: bytes | x509.Certificate, network: Network) -> str:
    """The device id a certificate proves for `network`; CertificateRefused, in one line, if none."""
    return proven_key(certificate, network)[0]


def network_public_key(network: Network) -> Ed25519PublicKey:
    key = x509.load_pem_x509_certificate(network.certificate).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRefused("the network's certificate holds no Ed25519 key")
    return key


def proven_key(certificate: bytes | x509.Certificate, network: Network) -> tuple[str, Ed25519PublicKey]:
    """The device id a certificate proves for `network` and the key that signs for it."""
    try:
        cert = certificate if isinstance(certificate, x509.Certificate) else (
            x509.load_der_x509_certificate(certificate) if not certificate.startswith(b"-----")
            else x509.load_pem_x509_certificate(certificate))
    except (ValueError, x509.InvalidVersion):  # a flipped bit in the version is not a ValueError
        raise CertificateRefused("not a certificate") from None
    try:
        # The outer algorithm and the signature's BIT STRING header lie outside what the signature
        # covers: unchecked, one certificate could be re-spelt into others that all verify (T10).
        if (cert.signature_algorithm_oid != SignatureAlgorithmOID.ED25519
                or not cert.public_bytes(serialization.Encoding.DER).endswith(b"\x03\x41\x00" + cert.signature)):
            raise InvalidSignature
        network_public_key(network).verify(cert.signature, cert.tbs_certificate_bytes)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):  # fields are parsed when first read
        raise CertificateRefused(f"certificate not signed by network {network.name}") from None
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateRefused("a laptop certificate must carry an Ed25519 key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRefused("a laptop certificate must carry an Ed25519 key")
    claimed = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    proven = device_id(raw_public(key))
    if not claimed or claimed[0].value != proven:
        raise CertificateRefused("certificate names a device its key does not prove")
    if not units or units[0].value != network.id:
        raise CertificateRefused(f"certificate is for another network, not {network.name}")
    return proven, key


@contextmanager
def _secret_file(data: bytes) -> Iterator[str]:
    """A path OpenSSL can read `data` from. On Linux an anonymous memory file, so the laptop's
    private key never touches the disk; elsewhere a private temporary file, removed at once."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("fieldkit-tls", 0)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    handle, path = tempfile.mkstemp()
    try:
        os.write(handle, data)
        os.close(handle)
        yield path
    finally:
        os.unlink(path)


def tls_context(*, server: bool, device_key: bytes, certificate: bytes, network: Network) -> ssl.SSLContext:
    """Mutual TLS 1.3 where both ends must show a certificate from `network`.

    Host names mean nothing on a LAN of laptops, so the name check is off; whoever accepts a
    connection then calls `peer_device`, which proves the device id from the certificate itself.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=network.certificate.decode())
    key = _private(device_key).private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with _secret_file(certificate + key) as path:
        context.load_cert_chain(path)
    return context


def peer_device(connection: ssl.SSLObject | ssl.SSLSocket, network: Network) -> str:
    """The device id the other end of an established connection proved."""
    der = connection.getpeercert(binary_form=True)
    if not der:
        raise CertificateRefused("the peer showed no certificate")
    return verify(der, network)
