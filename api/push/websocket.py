"""``/ws``: one WebSocket client's session with its worker's :class:`~api.push.hub.EventHub`.

The client sends JSON text messages ``{"action": "subscribe" | "unsubscribe", "types":
[...]}`` or ``{"action": "ping"}``; the server sends events ``{type, ts, payload}`` of the types
subscribed to, and control messages in the same shape: ``subscriptions`` (the types now
subscribed, after every change and on connecting), ``pong``, ``heartbeat`` (after
``heartbeat_seconds`` without a message) and ``error`` (a bad message, which is otherwise
ignored: ``payload.detail`` says what was wrong, ``payload.field`` where). The credential is
checked again at every heartbeat, so a revoked key or an expired token ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.websockets import WebSocket

from api.accounts.principal import Scope
from api.accounts.service import Accounts
from api.events.bus import EventType
from api.push import clients
from api.push.hub import EventHub, Subscriber

logger = logging.getLogger(__name__)

#: How long closing a connection may take (a client that reads nothing never acknowledges).
CLOSE_TIMEOUT_SECONDS = 5.0


class ClientMessage(BaseModel):
    """What a client may send."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["subscribe", "unsubscribe", "ping"]
    types: list[EventType] = []


async def serve(
    websocket: WebSocket, accounts: Accounts, hub: EventHub, origins: Sequence[str]
) -> None:
    """Authenticate, then stream events until either side ends the session. ``origins``:
    the pages besides the API's own that may connect with the dashboard's cookie."""
    credential = clients.presented(websocket)
    subprotocol = clients.answered_subprotocol(websocket)
    principal = await clients.principal_of(accounts, credential)
    await websocket.accept(subprotocol)
    if principal is None or (
        credential.from_cookie and not clients.trusted_origin(websocket, origins)
    ):
        detail = "not authenticated" if credential.credential is None else "invalid credentials"
        await websocket.close(clients.CLOSE_UNAUTHORIZED, detail)
        return
    if not principal.can(Scope.READ_DATA):
        await websocket.close(clients.CLOSE_FORBIDDEN, f"needs scope {Scope.READ_DATA.value}")
        return
    try:
        # Subscribing on the URL saves a round trip; without it, nothing until "subscribe".
        asked = websocket.query_params.get("types")
        types = clients.parse_types(asked) if asked is not None else set()
    except ValueError as exc:
        await websocket.close(clients.CLOSE_BAD_REQUEST, str(exc)[:120])
        return
    subscriber = hub.subscribe(principal, types)
    session = _Session(websocket, accounts, hub, subscriber, credential)
    try:
        await session.run()
    finally:
        hub.unsubscribe(subscriber)


class _Session:
    def __init__(
        self,
        websocket: WebSocket,
        accounts: Accounts,
        hub: EventHub,
        subscriber: Subscriber,
        credential: clients.Presented,
    ) -> None:
        self.websocket = websocket
        self.accounts = accounts
        self.hub = hub
        self.subscriber = subscriber
        self.credential = credential
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        await self._send(self._subscriptions())
        tasks = [
            asyncio.create_task(self._stream_events()),
            asyncio.create_task(self._read_messages()),
            # Apart from the stream: a client that reads nothing blocks the sending task.
            asyncio.create_task(self._dropped()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            # A send to a client that left raises; the session is over either way.
            await asyncio.gather(*tasks, return_exceptions=True)
        close = next(
            (t.result() for t in done if not t.cancelled() and t.exception() is None), None
        )
        if close is not None:
            code, reason = close
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_TIMEOUT_SECONDS)

    async def _send(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    def _subscriptions(self) -> str:
        return clients.control(
            "subscriptions", {"types": sorted(t.value for t in self.subscriber.types)}
        )

    async def _stream_events(self) -> tuple[int, str] | None:
        """Send what the hub hands over, heartbeats when idle; the close to send when the
        session must end (dropped, credential gone)."""
        heartbeat = self.hub.settings.heartbeat_seconds
        while True:
            try:
                delivery = await asyncio.wait_for(self.subscriber.next(), heartbeat)
            except TimeoutError:
                if await clients.principal_of(self.accounts, self.credential) is None:
                    return clients.CLOSE_UNAUTHORIZED, "credentials expired or revoked"
                await self._send(clients.control("heartbeat", {}))
                continue
            if delivery is None:
                return clients.CLOSE_SLOW_CONSUMER, self.subscriber.dropped or "dropped"
            await self._send(delivery.json)

    async def _dropped(self) -> tuple[int, str]:
        await self.subscriber.gone.wait()
        return clients.CLOSE_SLOW_CONSUMER, self.subscriber.dropped or "dropped"

    async def _read_messages(self) -> tuple[int, str] | None:
        """Apply the client's messages until it disconnects (None: nothing to send)."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None:
                await self._send(clients.control("error", {"detail": "send JSON text frames"}))
                continue
            await self._apply(text)

    async def _apply(self, text: str) -> None:
        try:
            command = ClientMessage.model_validate_json(text)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or None
            detail = {"detail": error["msg"], "field": field}
            await self._send(clients.control("error", detail))
            return
        if command.action == "ping":
            await self._send(clients.control("pong", {}))
            return
        if command.action == "subscribe":
            self.subscriber.types.update(command.types)
        else:
            self.subscriber.types.difference_update(command.types)
        await self._send(self._subscriptions())
