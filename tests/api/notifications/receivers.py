"""Real receivers on loopback for the delivery tests: a webhook endpoint that checks the
Standard Webhooks signature and dedupes on ``webhook-id`` like a careful receiver, a fake
Telegram Bot API answering from a script, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from api.notifications.signing import SignatureError, verify
from tests.fixtures.processes import free_port

#: Path -> HTTP status a webhook there always answers.
WEBHOOK_STATUS = {"/ok": 200, "/down": 503, "/gone": 410}
#: Longest a held request waits for the test to let it go.
HOLD_SECONDS = 60


@dataclass
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    #: First request of its webhook-id (a repeat is answered 200 but not processed again).
    accepted: bool


@dataclass
class WebhookReceiver:
    url: str
    #: The signing secret the receiver checks (a request that does not verify gets 401).
    secret: str | None = None
    requests: list[WebhookRequest] = field(default_factory=list)
    #: Set by the test to let requests to ``/hold`` be answered.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests if r.accepted]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.secret is not None:
            try:
                verify(self.secret, headers, body)
            except SignatureError:
                return 401
        with self.lock:
            seen = {r.headers.get("webhook-id") for r in self.requests if r.accepted}
            accepted = headers.get("webhook-id") not in seen
            self.requests.append(WebhookRequest(path, headers, body, accepted))
        if path == "/hold":
            self.release.wait(HOLD_SECONDS)
            return 200
        return WEBHOOK_STATUS.get(path, 404)


@dataclass
class TelegramFake:
    base: str
    #: (status, JSON answer, headers) answered in order; then 200 ok.
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    calls: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.calls.append((time.monotonic(), path, json.loads(body)))
        if self.script:
            return self.script.pop(0)
        return 200, {"ok": True, "result": {"message_id": len(self.calls)}}, {}


def _handler(webhooks: WebhookReceiver, telegram: TelegramFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path.startswith("/bot"):
                status, answer, extra = telegram.handle(self.path, body)
                self._answer(status, json.dumps(answer).encode(), extra)
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            self._answer(webhooks.handle(self.path, headers, body), b"{}", {})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the worker was killed while this request was held
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_receivers() -> Iterator[tuple[WebhookReceiver, TelegramFake]]:
    """One loopback HTTP server serving both the webhook paths and the fake Bot API."""
    webhooks = WebhookReceiver(url="")
    telegram = TelegramFake(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(webhooks, telegram))
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    webhooks.url, telegram.base = base, base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield webhooks, telegram
    finally:
        webhooks.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class MailSink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - the aiosmtpd handler API
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[MailSink]:
    port = free_port()  # aiosmtpd needs the port up front
    sink = MailSink("127.0.0.1", port)
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Loopback:
    """Every receiver of the delivery tests, on loopback."""

    webhooks: WebhookReceiver
    telegram: TelegramFake
    mail: MailSink

    def reset(self, secret: str | None) -> None:
        """Forget what earlier tests received; check signatures with ``secret``."""
        self.webhooks.secret = secret
        self.webhooks.requests.clear()
        self.webhooks.release.clear()
        self.telegram.calls.clear()
        self.telegram.script.clear()
        self.mail.messages.clear()


@contextmanager
def loopback_receivers() -> Iterator[Loopback]:
    with http_receivers() as (webhooks, telegram), smtp_server() as mail:
        yield Loopback(webhooks, telegram, mail)
