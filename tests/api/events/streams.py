"""What the real-time tests share: clients of ``/ws`` and of ``/events/stream`` over real
sockets (the ``websockets`` client, httpx), and publishing into a server's channel the way the
pipeline does (:func:`~api.events.bus.publish`, committed; also to the Redis stream when
given the redis transport's settings)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from api.accounts.database import OpsDatabase
from api.events import stream
from api.events.bus import EventType, publish
from pipelines.core.settings import EventsSettings, OpsDbSettings

#: Generous: a loaded two-core machine may take seconds to wake a worker.
RECEIVE_SECONDS = 20.0
T = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def ws_url(base_url: str, query: str = "") -> str:
    return base_url.replace("http://", "ws://", 1) + "/ws" + (f"?{query}" if query else "")


@contextmanager
def ws_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] | None = None,
    query: str = "",
    receive_buffer: int | None = None,
) -> Iterator[ClientConnection]:
    """A WebSocket client of ``/ws``; ``receive_buffer``: its socket's receive buffer (bytes),
    for a client that cannot keep up (its reading thread then holds one message at most)."""
    sock = None
    if receive_buffer is not None:
        host, port = base_url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect((host, int(port)))
    with connect(
        ws_url(base_url, query),
        additional_headers=dict(headers or {}),
        subprotocols=[*subprotocols] if subprotocols else None,  # type: ignore[misc]
        sock=sock,
        open_timeout=RECEIVE_SECONDS,
        max_size=2**22,
        max_queue=1 if receive_buffer is not None else 16,
    ) as client:
        yield client


def receive(client: ClientConnection, timeout: float = RECEIVE_SECONDS) -> dict[str, Any]:
    message = json.loads(client.recv(timeout=timeout))
    assert isinstance(message, dict)
    return message


def next_event(client: ClientConnection, timeout: float = RECEIVE_SECONDS) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = receive(client, timeout)
        if message["type"] != "heartbeat":
            return message


def subscribe(client: ClientConnection, *types: EventType) -> dict[str, Any]:
    client.send(json.dumps({"action": "subscribe", "types": [t.value for t in types]}))
    answer = next_event(client)
    assert answer["type"] == "subscriptions", answer
    return answer


def publish_now(
    ops_db_url: str,
    type: EventType,
    payloads: Sequence[Mapping[str, Any]],
    *,
    user_id: int | None = None,
    events: EventsSettings | None = None,
) -> list[int]:
    """Publish one event per payload, in one committed transaction; their ids. ``events``:
    the settings of a publisher (its redis transport adds the events to the stream)."""
    database = OpsDatabase.open(OpsDbSettings(url=ops_db_url))
    relay = None if events is None else stream.attach(database.sessions, events)
    try:
        with database.sessions() as session:
            rows = [publish(session, type, T, p, user_id=user_id) for p in payloads]
            session.commit()
        return [row.id for row in rows]
    finally:
        if relay is not None:
            relay.close()
        database.close()


def sse_events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    """The next ``count`` events of a Server-Sent Events response (fewer if it ends), each as
    its fields (``id``, ``event``, ``data``)."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields:
                events.append(fields)
                if len(events) == count:
                    return events
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events
