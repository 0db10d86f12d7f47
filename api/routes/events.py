"""Real-time events: ``/ws`` (WebSocket) and ``GET /events/stream`` (Server-Sent Events).

Both read the worker's :class:`~api.push.hub.EventHub`; what a client receives and how is
documented in :mod:`api.push.websocket`, :mod:`api.push.sse` and docs/api.md.
``/events/stream`` is an ordinary guarded route (credentials, ``read:data``, the rate limit);
``/ws`` authenticates itself (:mod:`api.push.clients`): a handshake carries no body and
browsers cannot set its headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, status
from fastapi.concurrency import run_in_threadpool

from api.deps import Authenticated
from api.events.bus import EventType
from api.push import clients, sse, websocket
from api.push.hub import Delivery, EventHub

router = APIRouter(tags=["events"])
#: Mounted without the data routers' guard (it reads an HTTP request, a handshake is not one).
ws_router = APIRouter()

#: Longest a stream may stay open before the client reconnects (it resumes where it was).
MAX_STREAM_SECONDS = 3600.0

TYPES_EXAMPLE = ",".join(t.value for t in EventType)
_ONE_TYPE = "|".join(t.value for t in EventType)
#: A comma-separated list of event types, checked by the document's own validation.
TYPES_PATTERN = f"^({_ONE_TYPE})(,({_ONE_TYPE}))*$"


def _unprocessable(where: str, name: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": [where, name], "msg": message, "type": "value_error"}],
    )


def _hub(app_state: object) -> EventHub:
    hub: EventHub | None = getattr(app_state, "events", None)
    if hub is None:
        raise RuntimeError("the event hub is not running: run the app with its lifespan")
    return hub


@ws_router.websocket("/ws")
async def events_websocket(ws: WebSocket) -> None:
    """Events over a WebSocket; see :mod:`api.push.websocket`."""
    settings = ws.app.state.settings
    await websocket.serve(ws, ws.app.state.accounts, _hub(ws.app.state), settings.api.cors_origins)


@router.get(
    "/events/stream",
    summary="Live events as Server-Sent Events",
    # The default (JSON) response class, so that the errors (401, 403, 422, 429) are
    # documented as the JSON they are; the 200 is documented as the stream it is.
    responses={
        status.HTTP_200_OK: {
            "description": "A `text/event-stream`: `id`, `event` (the type) and `data` "
            "(`{type, ts, payload}`) per event, heartbeat comments while idle; ends after "
            "`max_seconds`, or with an `error` event when the client falls too far behind.",
            "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
    },
)
async def event_stream(
    request: Request,
    principal: Authenticated,
    types: Annotated[
        str | None,
        Query(
            description="Comma-separated event types (default: all): "
            "price_update, alert_triggered, portfolio_update, news_item.",
            examples=[TYPES_EXAMPLE],
            max_length=200,
            pattern=TYPES_PATTERN,
        ),
    ] = None,
    max_seconds: Annotated[
        float,
        Query(gt=0, le=MAX_STREAM_SECONDS, description="End the stream after this long."),
    ] = MAX_STREAM_SECONDS,
) -> sse.EventStreamResponse:
    """Every event the caller may see (alert firings: their own only) of the chosen types,
    as they are published, on any worker. A `Last-Event-ID` header (what `EventSource` sends
    when it reconnects: the `id` of the last event received) resumes after that event."""
    try:
        chosen = clients.parse_types(types)
    except ValueError as exc:
        raise _unprocessable("query", "types", str(exc)) from None
    # Read here, not declared as a header parameter: the document's headers would then be a
    # closed set, and every client sends others.
    resume = request.headers.get("last-event-id")
    if resume is not None and not resume.isdigit():
        raise _unprocessable("header", "last-event-id", "an event id: a non-negative integer")
    last_event_id = int(resume) if resume is not None else None
    hub = _hub(request.app.state)
    upto = hub.handed_out
    subscriber = hub.subscribe(principal, chosen)

    async def backlog() -> list[Delivery]:
        if last_event_id is None or last_event_id >= upto:
            return []
        return await run_in_threadpool(hub.backlog, principal, chosen, last_event_id, upto)

    accounts = request.app.state.accounts
    credential = clients.presented(request)

    async def still_valid() -> bool:
        return await clients.principal_of(accounts, credential) is not None

    return sse.EventStreamResponse(
        hub, subscriber, backlog, max_seconds, still_valid, resume_after=last_event_id
    )
