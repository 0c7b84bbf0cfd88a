"""The TLS certificate of the pages' own port.

Browsers cannot reach the laptops' port: its certificate holds the hub's Ed25519 device key, which
laptops check against the clinic network, and no browser offers Ed25519 in TLS (Chromium's
handshake with it closes at once). So the pages listen on a port of their own, with an ECDSA P-256
key made on the first start and kept in the data directory (the device key's neighbour, owner-only).
No authority browsers know signs it: a browser warns on the first visit, and the manager compares
the SHA-256 fingerprint `fieldkit hub serve` prints with the one the browser shows before going on.
The certificate is kept, so the browser's exception and the printed fingerprint stay the same.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KEY, CERTIFICATE = "pages.key", "pages.pem"


def _names(host: str) -> list[x509.GeneralName]:
    """Names a browser may reach the hub by: this machine's, loopback, and the address it listens on."""
    dns = {"localhost", socket.gethostname(), socket.getfqdn(), f"{socket.gethostname()}.local"}
    addresses = {"127.0.0.1", "::1"}
    try:
        if not ipaddress.ip_address(host).is_unspecified:
            addresses.add(host)
    except ValueError:
        dns.add(host)
    return [*(x509.DNSName(name) for name in sorted(dns) if name),
            *(x509.IPAddress(ipaddress.ip_address(address)) for address in sorted(addresses))]


def ensure(data: Path, host: str = "0.0.0.0") -> tuple[Path, Path]:
    """The pages' (certificate, key) files in `data`, made the first time. Several hub processes
    starting at once (`--reuse-port`) take turns: one makes the pair, the others read it, so none
    ends up serving a key that is not its certificate's."""
    certificate, key_file = data / CERTIFICATE, data / KEY
    with (data / "pages.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (certificate.exists() and key_file.exists()):
            _make(host, certificate, key_file)
    return certificate, key_file


def _make(host: str, certificate: Path, key_file: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"fieldkit hub {socket.gethostname()}"[:64])])
    now = datetime.now(UTC)
    made = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    certificate.write_bytes(made.public_bytes(serialization.Encoding.PEM))


def fingerprint(data: Path) -> str:
    """The certificate's SHA-256 fingerprint as browsers show it (AB:CD:…)."""
    made = x509.load_pem_x509_certificate((data / CERTIFICATE).read_bytes())
    return made.fingerprint(hashes.SHA256()).hex(":").upper()


def context(data: Path, host: str = "0.0.0.0") -> ssl.SSLContext:
    """A server context for the pages: TLS 1.3 as on every fieldkit link, no client certificate asked."""
    certificate, key = ensure(data, host)
    made = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    made.minimum_version = ssl.TLSVersion.TLSv1_3
    made.load_cert_chain(certificate, key)
    return made
