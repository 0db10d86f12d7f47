"""The security middleware: request id, request-size limit, security headers, rate-limit
headers, metrics and the JSON access log, in one pure ASGI layer; CORS beside it.

Pure ASGI on purpose: Starlette's ``BaseHTTPMiddleware`` runs the app in a task and streams
the response through memory channels, which costs more than everything below together. One
layer instead of five keeps the per-request cost to a few header appends and one log line.

Order (outermost first): Starlette's ServerErrorMiddleware, this layer, CORS, the routes. So
CORS answers preflights inside this layer (they get a request id and headers too), and a 500
this layer sees is answered by it with the same headers before the server-error layer logs it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, status
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.security import metrics
from api.security.logs import REQUEST_ID, access_logger, install_record_factory
from api.security.ratelimit import Quota
from pipelines.core.settings import ApiSettings

#: An incoming X-Request-ID is kept when it looks like an id (a proxy's or a client's), else
#: replaced: it is echoed in a header and written to logs, so nothing else may pass.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

#: Pages that run Swagger UI / ReDoc: scripts and styles from the CDN FastAPI uses, and the
#: inline bootstrap script FastAPI writes into the page.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_DOCS_CSP = (
    "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: The dashboard's pages (api.web): scripts, styles, fonts and data from this origin only, no
#: inline script. One relaxation: ``style-src-attr 'unsafe-inline'``, because the chart
#: library writes its tooltips as HTML with ``style`` attributes; it allows no <style> element
#: and no script. ``img-src data: blob:`` for the charts' image export.
DASHBOARD_PREFIX = "/dashboard"
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_API_HEADERS = (*_COMMON_HEADERS, (b"content-security-policy", _API_CSP.encode()))
_DOCS_HEADERS = (*_COMMON_HEADERS, (b"content-security-policy", _DOCS_CSP.encode()))
_PAGE_HEADERS = (*_COMMON_HEADERS, (b"content-security-policy", _PAGE_CSP.encode()))
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

#: Methods kept as metric labels; any other a client invents is counted as OTHER.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Headers a browser script may read on a cross-origin response.
EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
]


class BodyTooLarge(HTTPException):
    """413; raised from ``receive`` so that FastAPI's body parsing answers it as JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"request body larger than {limit} bytes",
        )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _request_id(scope: Scope) -> str:
    incoming = _header(scope, b"x-request-id")
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming.decode()
    return secrets.token_hex(16)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else metrics.UNMATCHED


def _headers_of(path: str) -> tuple[tuple[bytes, bytes], ...]:
    if path in DOCS_PATHS:
        return _DOCS_HEADERS
    if path == DASHBOARD_PREFIX or path.startswith(f"{DASHBOARD_PREFIX}/"):
        return _PAGE_HEADERS
    return _API_HEADERS


class _Exchange:
    """The state of one request/response as it passes this layer."""

    __slots__ = ("received", "request_id", "scope", "started", "status")

    def __init__(self, scope: Scope, request_id: str) -> None:
        self.scope = scope
        self.request_id = request_id
        self.status = 500
        self.started = False
        self.received = 0

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        extra = list(_headers_of(self.scope["path"]))
        extra.append((b"x-request-id", self.request_id.encode()))
        if self.scope.get("scheme") == "https":
            extra.append(_HSTS)
        quota = self.scope["state"].get("rate_limit")
        if isinstance(quota, Quota):
            extra.extend((k.lower().encode(), v.encode()) for k, v in quota.headers().items())
        return extra


class SecurityMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log: logging.Logger | None = access_logger() if access_log else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        exchange = _Exchange(scope, _request_id(scope))
        scope.setdefault("state", {})["request_id"] = exchange.request_id
        token = REQUEST_ID.set(exchange.request_id)
        try:
            await self._serve(exchange, receive, send)
        finally:
            self._record(exchange, time.perf_counter() - began)
            REQUEST_ID.reset(token)

    async def _serve(self, exchange: _Exchange, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.started = True
                exchange.status = message["status"]
                headers = [*message.get("headers", ()), *exchange.response_headers()]
                message = {**message, "headers": headers}
            await send(message)

        async def receive_within_limit() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.received += len(message.get("body", b""))
                if exchange.received > limit:
                    raise BodyTooLarge(limit)
            return message

        declared = _header(exchange.scope, b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            await self.app(exchange.scope, receive_within_limit, send_with_headers)
        except BodyTooLarge as exc:  # raised where no FastAPI route turned it into a response
            if exchange.started:
                raise
            await _send_json(send_with_headers, exc.status_code, {"detail": exc.detail})
        except Exception:
            # Answer with our headers; the server-error layer above sees a started response
            # and only logs the traceback.
            if not exchange.started:
                await _send_json(send_with_headers, 500, {"detail": "internal server error"})
            raise

    def _record(self, exchange: _Exchange, seconds: float) -> None:
        scope = exchange.scope
        route = _route_template(scope)
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        metrics.observe_request(method, route, exchange.status, seconds)
        if self.log is None:
            return
        principal = scope["state"].get("principal")
        client = scope.get("client")
        self.log.info(
            "request",
            extra={
                "fields": {
                    "method": scope["method"],
                    # The path only: a query string may carry a secret by a client's mistake.
                    "path": scope["path"],
                    "route": route,
                    "status": exchange.status,
                    "duration_ms": round(seconds * 1000, 2),
                    "user_id": getattr(principal, "user_id", None),
                    "client": client[0] if client else None,
                }
            },
        )


async def _send_json(send: Send, status_code: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def install(app: FastAPI, api: ApiSettings) -> None:
    """Put the security layer and CORS around ``app`` (before it starts serving)."""
    app.state.api_settings = api
    install_record_factory()
    # Warnings become log records too, so they are JSON lines with a request id like the rest.
    logging.captureWarnings(True)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            # Credentials (token cookies) are allowed, hence explicit origins only: the settings
            # refuse "*" (a browser refuses it with credentials anyway).
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(
        SecurityMiddleware, max_body_bytes=api.max_body_bytes, access_log=api.access_log
    )


__all__: Sequence[str] = ["BodyTooLarge", "SecurityMiddleware", "install"]
