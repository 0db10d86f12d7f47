"""``/alerts/deliveries`` and ``/alerts/webhook-secret``: the signed-in user's notification
log, and the secret their webhook deliveries are signed with.

Only the owner's own notifications are listed (a firing id of another user's lists nothing).
The secret is a credential: reading and rotating it need ``manage:account``, and a rotation
is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.accounts import audit
from api.accounts.audit import Outcome
from api.deps import Client, DbSession
from api.notifications import signing
from api.notifications.log import MAX_LIMIT, DeliveryPage, deliveries
from api.notifications.tables import DeliveryStatus
from api.routes.alerts import Reader, Writer

router = APIRouter(prefix="/alerts", tags=["alerts"])


class WebhookSecretOut(BaseModel):
    secret: str = Field(
        description="Standard Webhooks secret (whsec_ + base64 key): verify each delivery's "
        "webhook-signature with it (see docs/security.md)."
    )
    created_at: dt.datetime


#: A firing's id (a 32-bit integer column on PostgreSQL).
FiringFilter = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="Only this firing's notifications.")
]
StatusFilter = Annotated[DeliveryStatus | None, Query(description="Only this status.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries, newest first.")]


@router.get("/deliveries", response_model=DeliveryPage, summary="Your notifications' delivery log")
def list_deliveries(
    session: DbSession,
    user: Reader,
    firing_id: FiringFilter = None,
    status: StatusFilter = None,
    limit: Limit = 100,
) -> DeliveryPage:
    return deliveries(session, user.id, limit, firing_id, status)


@router.get(
    "/webhook-secret",
    response_model=WebhookSecretOut,
    summary="The secret your webhooks are signed with (created on first read)",
)
def get_webhook_secret(session: DbSession, user: Writer) -> WebhookSecretOut:
    row = signing.stored(session, user.id)
    session.commit()
    return WebhookSecretOut(secret=row.secret, created_at=row.created_at)


@router.post(
    "/webhook-secret", response_model=WebhookSecretOut, summary="Replace your webhook secret"
)
def rotate_webhook_secret(session: DbSession, user: Writer, client: Client) -> WebhookSecretOut:
    row = signing.rotate(session, user.id)
    audit.record(session, "webhook_secret.rotate", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return WebhookSecretOut(secret=row.secret, created_at=row.created_at)
