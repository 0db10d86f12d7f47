"""The delivery log a user reads (``GET /alerts/deliveries``): their notifications, newest
first, as stored, with destinations shown without what may be secret in them.

A webhook URL often carries its own credential (a token in the path or the query, as chat
services issue them), so the log shows its origin and first path segment only; e-mail
addresses and chat ids are shown whole (the user wrote them, they unlock nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.notifications.tables import DeliveryStatus, Notification

#: The most entries one page of the log holds.
MAX_LIMIT = 500


def shown_destination(channel: str, destination: str) -> str:
    """``https://hooks.example.com/services/…`` for a webhook; the rest unchanged."""
    if channel != "webhook":
        return destination
    parts = urlsplit(destination)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    segments = [segment for segment in parts.path.split("/") if segment]
    path = f"/{segments[0]}" if segments else "/"
    hidden = len(segments) > 1 or bool(parts.query) or bool(parts.fragment)
    return origin + path + ("/…" if hidden else "")


class DeliveryOut(BaseModel):
    """One notification: where it goes and how its delivery stands."""

    id: int
    firing_id: int = Field(description="The firing it announces (GET /alerts/firings).")
    channel: Literal["webhook", "email", "telegram"]
    destination: str = Field(
        description="The address or chat id; for a webhook, its origin and first path "
        "segment only (the rest of a URL may hold a token)."
    )
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far (a retry counts one more).")
    last_error: str | None = Field(description="Why the last attempt did not deliver.")
    last_status_code: int | None = Field(
        description="The receiver's HTTP status (or SMTP reply code) of the last attempt."
    )
    next_attempt_at: dt.datetime | None = Field(
        description="When it is tried again (pending ones); null once sent or failed."
    )
    created_at: dt.datetime
    sent_at: dt.datetime | None


class DeliveryPage(BaseModel):
    limit: int
    deliveries: list[DeliveryOut]


def _out(row: Notification) -> DeliveryOut:
    waiting = row.status in (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
    return DeliveryOut(
        id=row.id,
        firing_id=row.firing_id,
        channel=row.channel,  # type: ignore[arg-type] # validated by the schema
        destination=shown_destination(row.channel, row.destination),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        last_status_code=row.last_status_code,
        next_attempt_at=row.next_attempt_at if waiting else None,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def deliveries(
    session: Session,
    user_id: int,
    limit: int,
    firing_id: int | None = None,
    status: DeliveryStatus | None = None,
) -> DeliveryPage:
    """The user's notifications, newest first, optionally of one firing or one status."""
    query = select(Notification).where(Notification.user_id == user_id)
    if firing_id is not None:
        query = query.where(Notification.firing_id == firing_id)
    if status is not None:
        query = query.where(Notification.status == status.value)
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows: Sequence[Notification] = session.scalars(query.limit(min(limit, MAX_LIMIT))).all()
    return DeliveryPage(limit=limit, deliveries=[_out(row) for row in rows])
