"""``GET /events/stream``: the Server-Sent Events fallback of ``/ws``, for clients that cannot
speak WebSocket (a browser's ``EventSource``, ``curl -N``).

Each event is sent as ``id: <event id>``, ``event: <type>`` and ``data: {type, ts, payload}``;
a comment line keeps an idle stream open every ``heartbeat_seconds``. A client that
reconnects with ``Last-Event-ID`` (``EventSource`` does so by itself) first receives what it
missed since that event, as long as the channel still holds it (the retention period). The
stream ends after ``max_seconds`` (the client reconnects and resumes); it ends after an
``event: close`` whose ``payload.detail`` says why when the hub drops a slow client (if it
still reads) and when the caller's credential expired or was revoked (checked at every
heartbeat). Not ``event: error``: a browser's ``EventSource`` reserves that name for its own
connection errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.push import clients
from api.push.hub import Delivery, EventHub, Subscriber

logger = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
#: How long a client waits before reconnecting after the stream ended (ms).
RETRY_MS = 3000
#: How long ending a stream may take (a client that reads nothing never takes the last bytes).
END_TIMEOUT_SECONDS = 5.0


def frame(delivery: Delivery) -> bytes:
    return f"id: {delivery.id}\nevent: {delivery.type.value}\ndata: {delivery.json}\n\n".encode()


class EventStreamResponse(Response):
    """Streams one subscriber's events; ``backlog`` (what a resuming client missed) first."""

    media_type = MEDIA_TYPE

    def __init__(
        self,
        hub: EventHub,
        subscriber: Subscriber,
        backlog: Callable[[], Awaitable[list[Delivery]]],
        max_seconds: float,
        still_valid: Callable[[], Awaitable[bool]],
        resume_after: int | None = None,
    ) -> None:
        super().__init__(
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            media_type=MEDIA_TYPE,
        )
        # A stream has no length: without it, HTTP/1.1 sends the body chunked.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub = hub
        self.subscriber = subscriber
        self.backlog = backlog
        self.max_seconds = max_seconds
        #: Asked at every heartbeat: whether the caller's credential still holds.
        self.still_valid = still_valid
        #: Why the stream ended early (sent as a ``close`` event), if it did.
        self.reason: str | None = None
        #: The client's ``Last-Event-ID``: events the hub had not handed out yet when the client
        #: subscribed reach it live, and those it already has must not come again.
        self.resume_after = resume_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            ending = await self._race(send, receive)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(END_TIMEOUT_SECONDS):
                    if ending:
                        await send(
                            {"type": "http.response.body", "body": ending, "more_body": True}
                        )
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.hub.unsubscribe(self.subscriber)

    async def _race(self, send: Send, receive: Receive) -> bytes:
        """Stream until the time is up, the client leaves or the hub drops it; what to send
        last (a ``close`` event with the reason when it ended early)."""
        tasks = {
            asyncio.create_task(self._stream(send)),
            asyncio.create_task(_disconnected(receive)),
            asyncio.create_task(self.subscriber.gone.wait()),
        }
        try:
            await asyncio.wait(tasks, timeout=self.max_seconds, return_when="FIRST_COMPLETED")
        finally:
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, OSError):
                logger.error("event stream failed", exc_info=outcome)
        reason = self.subscriber.dropped or self.reason
        if reason is None:
            return b""
        message = clients.control("close", {"detail": reason})
        return f"event: close\ndata: {message}\n\n".encode()

    async def _stream(self, send: Send) -> None:
        async def body(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        await body(f"retry: {RETRY_MS}\n\n".encode())
        for delivery in await self.backlog():
            await body(frame(delivery))
        async for chunk in self._live():
            await body(chunk)

    async def _live(self) -> AsyncIterator[bytes]:
        heartbeat = self.hub.settings.heartbeat_seconds
        while True:
            try:
                delivery = await asyncio.wait_for(self.subscriber.next(), heartbeat)
            except TimeoutError:
                if not await self.still_valid():
                    self.reason = "credentials expired or revoked"
                    return
                yield b": heartbeat\n\n"
                continue
            if delivery is None:
                return
            if self.resume_after is not None and delivery.id <= self.resume_after:
                continue
            yield frame(delivery)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
