"""Webhook signatures, as the Standard Webhooks specification defines them
(https://www.standardwebhooks.com), and each user's signing secret.

Every delivery carries three headers:

* ``webhook-id``: the notification's stable id; a retry of the same notification carries the
  same id, so a receiver that remembers the ids it processed never processes one twice;
* ``webhook-timestamp``: the attempt's time, integer seconds since the epoch;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with
  the base64-decoded part of the user's secret after ``whsec_``.

A receiver recomputes the HMAC over the raw body it received, compares it in constant time
(:func:`verify`, or any Standard Webhooks library) and refuses a timestamp more than a few
minutes away from its clock (replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.accounts.tables import utcnow
from api.notifications.tables import WebhookSecret

SECRET_PREFIX = "whsec_"
#: Bytes of a new secret (the specification asks for 24 to 64).
SECRET_BYTES = 32
#: How far a receiver should accept a timestamp from its own clock (the specification's 5 min).
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A delivery whose signature or timestamp does not verify."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value of a delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, webhook_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None) -> None:
    """What a receiver does (header names in lower case): raises :class:`SignatureError`
    unless one of the signatures matches and the timestamp is recent."""
    try:
        timestamp = int(received["webhook-timestamp"])
        webhook_id = received["webhook-id"]
        offered = received["webhook-signature"].split()
    except (KeyError, ValueError):
        raise SignatureError("missing or malformed webhook headers") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp too far from now")
    expected = signature(secret, webhook_id, timestamp, body)
    # Several space-separated signatures may be sent while a secret is being rotated.
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("no signature matches")


def stored(session: Session, user_id: int) -> WebhookSecret:
    """The user's signing secret, created on first use (the caller commits). Two workers
    creating it at once agree on one: the second insert does nothing and reads the first."""
    row = session.get(WebhookSecret, user_id)
    if row is not None:
        return row
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WebhookSecret).values(
        user_id=user_id, secret=new_secret(), created_at=utcnow()
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["user_id"]))
    row = session.get(WebhookSecret, user_id)
    assert row is not None
    return row


def secret_of(session: Session, user_id: int) -> str:
    return stored(session, user_id).secret


def rotate(session: Session, user_id: int) -> WebhookSecret:
    """Replace the user's secret (deliveries from the next attempt on use the new one)."""
    row = stored(session, user_id)
    row.secret = new_secret()
    row.created_at = utcnow()
    session.flush()
    return row
