"""The endpoint's TLS: the operator's certificate, or a self-signed one made on first start.

``sslmode=require`` clients encrypt without verifying (contract §4.2), so a self-signed
certificate in ``<data-dir>/tls`` serves out of the box; ``tls-cert``/``tls-key`` install a
real one. The key file is written 0600 before any byte of the key goes into it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from bitdotio.config import Settings
from bitdotio.errors import BitError

__all__ = ["server_context"]

_VALID_DAYS = 3650


def _generate(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname()[:64])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.DNSName(socket.gethostname()),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(alt_names, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp_key = key_path.with_name(key_path.name + ".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    tmp_cert = cert_path.with_name(cert_path.name + ".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)


def _paths(settings: Settings) -> tuple[Path, Path]:
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise BitError("BIT500", "Set both tls-cert and tls-key, or neither")
        return Path(settings.tls_cert), Path(settings.tls_key)
    directory = Path(settings.data_dir) / "tls"
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    if not (cert_path.exists() and key_path.exists()):
        _generate(cert_path, key_path)
    return cert_path, key_path


def server_context(settings: Settings) -> ssl.SSLContext:
    """TLS 1.2+ server context; BIT500 naming the file when a certificate cannot be used."""
    cert_path, key_path = _paths(settings)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["postgresql"])
    try:
        context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise BitError(
            "BIT500", f"Cannot use the TLS certificate {cert_path} with key {key_path}: {exc}"
        ) from None
    return context
