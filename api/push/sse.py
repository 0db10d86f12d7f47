"""``GET /events/stream``: the Server-Sent Events fallback of ``/ws``, for clients that cannot
speak WebSocket (a browser's ``EventSource``, ``curl -N``).

Each event is sent as ``id: <event id>``, ``event: <type>`` and ``data: {type, ts, payload}``;
a comment line keeps an idle stream open every ``heartbeat_seconds``. A client that
reconnects with ``Last-Event-ID`` (``EventSource`` does so by itself) first receives what it
missed since that event, as long as the channel still holds it (the retention period). The
stream ends after ``max_seconds`` (the client reconnects and resumes), and when the hub drops
a slow client, after an ``event: error`` saying why (when the client still reads).
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
        last (an error event when dropped)."""
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
        if self.subscriber.dropped is None:
            return b""
        error = clients.control("error", {"detail": self.subscriber.dropped})
        return f"event: error\ndata: {error}\n\n".encode()

    async def _stream(self, send: Send) -> None:
        async def body(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        await body(f"retry: {RETRY_MS}\n\n".encode())
        for delivery in await self.backlog():
            await body(frame(delivery))
        async for chunk in _live(self.subscriber, self.hub.settings.heartbeat_seconds):
            await body(chunk)


async def _live(subscriber: Subscriber, heartbeat: float) -> AsyncIterator[bytes]:
    while True:
        try:
            delivery = await asyncio.wait_for(subscriber.next(), heartbeat)
        except TimeoutError:
            yield b": heartbeat\n\n"
            continue
        if delivery is None:
            return
        yield frame(delivery)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
