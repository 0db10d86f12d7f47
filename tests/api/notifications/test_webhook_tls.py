"""A webhook over TLS while the guard pins the checked address: the request goes to the IP
the host name resolved to, yet the TLS server name and the certificate check are the host
name's (a certificate for another name is refused)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.notifications import webhook
from api.notifications.attempts import Verdict
from api.notifications.claims import Claim
from api.notifications.signing import new_secret
from pipelines.core.settings import NotificationSettings


def _certificate(
    name: str,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    ca: bool,
    san: str | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def https_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int, ssl.SSLContext]]:
    """An HTTPS server on localhost whose certificate names only ``localhost``; yields its
    address, port and a client context trusting its CA."""
    folder: Path = tmp_path_factory.mktemp("tls")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _certificate("test CA", ca_name, ca_key, ca_key, True, None)
    leaf = _certificate("localhost", ca_name, key, ca_key, False, "localhost")
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(204 if self.headers["host"].startswith("localhost:") else 421)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    # Listen where the guard will connect: the first address "localhost" resolves to.
    family, _, _, _, address = socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0]
    server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
    server = server_class((str(address[0]), 0), Ok)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "leaf.pem", folder / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    try:
        yield str(address[0]), server.server_address[1], trust
    finally:
        server.shutdown()
        server.server_close()


def _claim(url: str) -> Claim:
    now = dt.datetime.now(dt.UTC)
    return Claim(1, 1, 1, "webhook", url, {"type": "alert.triggered"}, 1, now, new_secret())


def test_pinned_requests_keep_the_host_names_tls_identity(
    https_server: tuple[str, int, ssl.SSLContext],
) -> None:
    address, port, trust = https_server
    literal = f"[{address}]" if ":" in address else address
    settings = NotificationSettings(allow_private_webhooks=True)
    with httpx.Client(verify=trust) as client:
        sent = webhook.deliver(client, _claim(f"https://localhost:{port}/hook"), settings)
        assert (sent.verdict, sent.status_code) == (Verdict.SENT, 204)
        # The same server by address: its certificate does not name the address.
        refused = webhook.deliver(client, _claim(f"https://{literal}:{port}/hook"), settings)
        assert refused.verdict == Verdict.RETRY and refused.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in refused.error
