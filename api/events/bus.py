"""Publishing an event: the one way a process (a serving load, the alerts worker, an API
route) tells every API worker's real-time clients that something happened.

:func:`publish` adds an :class:`~api.events.tables.Event` row in the caller's transaction and
commits nothing: the event exists exactly when what it tells is committed (a firing and its
``alert_triggered`` event are stored together or not at all). On PostgreSQL it also queues a
``NOTIFY`` on :data:`CHANNEL`, which PostgreSQL delivers at that commit, so the listening API
workers wake at once instead of at their next poll; on SQLite the workers poll.

:class:`EventMessage` is the one schema of what a client receives: ``{type, ts, payload}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue
from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.events.tables import Event

#: The PostgreSQL notification channel the API workers LISTEN on.
CHANNEL = "rwa_events"


class EventType(StrEnum):
    """What a client may subscribe to (the seed's events)."""

    PRICE_UPDATE = "price_update"
    ALERT_TRIGGERED = "alert_triggered"
    PORTFOLIO_UPDATE = "portfolio_update"
    NEWS_ITEM = "news_item"


class EventMessage(BaseModel):
    """One event as a WebSocket or Server-Sent Events client receives it."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    #: When what the event tells happened (a bar's start, a firing's time), UTC.
    ts: dt.datetime
    payload: dict[str, JsonValue]

    @classmethod
    def of(cls, event: Event) -> EventMessage:
        return cls(type=EventType(event.type), ts=event.ts, payload=event.payload)


def publish(
    session: Session,
    type: EventType | str,
    ts: dt.datetime,
    payload: Mapping[str, Any],
    *,
    user_id: int | None = None,
) -> Event:
    """Add an event to ``session``'s transaction (the caller commits). ``user_id``: only that
    user's clients receive it (an alert firing); None: every client allowed the type.
    ``payload`` is stored as JSON (datetimes and decimals become strings and numbers); a
    naive ``ts`` is taken as UTC. Raises ValueError for an unknown type."""
    event_type = EventType(type)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    event = Event(
        type=event_type.value,
        ts=ts,
        payload=to_jsonable_python(dict(payload)),
        user_id=user_id,
    )
    session.add(event)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Queued in the transaction and delivered at its commit (never on a rollback);
        # PostgreSQL folds identical notifications of one transaction into one.
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    return event
