"""What the WebSocket and Server-Sent Events streams share: who is connecting (credentials
read from a connection, resolved like a request's), which types they ask for, and the control
messages (``{type, ts, payload}`` like the events, with types of their own).

Credentials, in the order they are looked for:

1. ``X-API-Key: rwa_…`` or ``Authorization: Bearer <token or rwa_ key>`` (any client that
   sets headers);
2. a WebSocket subprotocol ``rwa.bearer.<token or rwa_ key>`` offered beside ``rwa.v1`` (what
   a browser's ``new WebSocket(url, ["rwa.v1", "rwa.bearer." + key])`` can send; the server
   answers with ``rwa.v1``, never echoing the credential);
3. the dashboard's access-token cookie, from a page of the API's own origin or one of
   ``RWA_API_CORS_ORIGINS`` (a cross-site page cannot ride on it).

Never in the URL (``?token=``): uvicorn logs every handshake's path with its query string,
and proxies do too; every client can use one of the three above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.accounts import credentials
from api.accounts.keys import KEY_PREFIX
from api.accounts.principal import Principal
from api.accounts.service import Accounts
from api.deps import ACCESS_COOKIE
from api.events.bus import EventType

#: The subprotocol a browser offers (and the server answers) beside its credential's.
SUBPROTOCOL = "rwa.v1"
BEARER_SUBPROTOCOL = "rwa.bearer."

#: Close codes of /ws (4000-4999 are the application's; documented in docs/api.md).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SLOW_CONSUMER = 4008
#: A bad ``types`` in the URL (the standard policy-violation code).
CLOSE_BAD_REQUEST = 1008
CLOSE_NORMAL = 1000


@dataclass(frozen=True, slots=True)
class Presented:
    """The credential a connection presents: an API key or an access token (or neither)."""

    api_key: str | None
    token: str | None
    #: Whether it came from the cookie (then the page's origin must be trusted).
    from_cookie: bool = False

    @property
    def credential(self) -> str | None:
        return self.api_key if self.api_key is not None else self.token

    @classmethod
    def of(cls, value: str | None, *, from_cookie: bool = False) -> Presented:
        if value is not None and value.startswith(KEY_PREFIX):
            return cls(value, None, from_cookie)
        return cls(None, value or None, from_cookie)


def _bearer(connection: HTTPConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _subprotocols(connection: HTTPConnection) -> list[str]:
    offered = connection.headers.get("sec-websocket-protocol", "")
    return [part.strip() for part in offered.split(",") if part.strip()]


def presented(connection: HTTPConnection) -> Presented:
    """The credential of ``connection``, looked for in the documented order."""
    if "x-api-key" in connection.headers:
        return Presented(connection.headers["x-api-key"], None)
    bearer = _bearer(connection)
    if bearer is not None:
        return Presented.of(bearer)
    for protocol in _subprotocols(connection):
        if protocol.startswith(BEARER_SUBPROTOCOL):
            return Presented.of(protocol.removeprefix(BEARER_SUBPROTOCOL))
    return Presented.of(connection.cookies.get(ACCESS_COOKIE), from_cookie=True)


def answered_subprotocol(connection: HTTPConnection) -> str | None:
    """``rwa.v1`` when the client offered it (a browser fails a handshake whose answer is
    not among its offers, and expects an answer when it offered any)."""
    return SUBPROTOCOL if SUBPROTOCOL in _subprotocols(connection) else None


def trusted_origin(connection: HTTPConnection, allowed: Iterable[str]) -> bool:
    """Whether a cookie-authenticated connection comes from a page allowed to use it: no
    ``Origin`` (not a browser page), the API's own origin, or a configured CORS origin."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    host = connection.headers.get("host", "")
    return origin.split("://", 1)[-1] == host or origin in set(allowed)


async def principal_of(accounts: Accounts, credential: Presented) -> Principal | None:
    """Who holds ``credential`` (None: absent, unknown, expired or revoked), from the
    per-process cache when it holds it, else from the operational database in a thread."""
    value = credential.credential
    if value is None:
        return None
    cached = accounts.principals.get(value)
    if cached is not None:
        return cached
    return await run_in_threadpool(
        credentials.resolve,
        accounts.database.sessions,
        accounts.issuer,
        accounts.principals,
        api_key=credential.api_key,
        token=credential.token,
    )


def parse_types(value: str | None) -> set[EventType]:
    """A comma-separated list of event types (None or empty: all of them); ValueError names
    the first unknown one."""
    if not value:
        return set(EventType)
    chosen: set[EventType] = set()
    for name in (part.strip() for part in value.split(",")):
        try:
            chosen.add(EventType(name))
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            raise ValueError(f"unknown event type {name!r}; known: {known}") from None
    return chosen


def control(type: str, payload: dict[str, Any]) -> str:
    """A control message (``subscriptions``, ``heartbeat``, ``error``, ``pong``) as JSON."""
    message = {"type": type, "ts": dt.datetime.now(dt.UTC), "payload": payload}
    return orjson.dumps(message, option=orjson.OPT_UTC_Z).decode()
