"""Claiming due notifications and recording what their delivery came to.

A worker claims a batch in one committed statement: the rows that are due (``pending`` with
``next_attempt_at`` reached, or ``sending`` with a lapsed ``claimed_until``: a crashed worker's
claims) become ``sending`` until now + the lease, and their ``attempts`` count up. On
PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent
workers take different rows without waiting; SQLite runs the single ``UPDATE`` under its write
lock. Either way the ``UPDATE`` repeats the due test, so a row is never claimed twice at once.

The send happens outside any transaction; then :func:`record` stores the outcome, but only if
the claim is still the worker's (status ``sending`` and the attempt count it claimed): a worker
that overran its lease and was taken over records nothing. A crash between the send and the
record leaves the row ``sending``; after the lease it is claimed again and sent again, with
the same delivery id (at-least-once: receivers dedupe on ``webhook-id`` / ``Message-ID``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.tables import utcnow
from api.notifications import signing
from api.notifications.attempts import Outcome, Verdict, backoff_seconds
from api.notifications.tables import DeliveryStatus, Notification
from pipelines.core.settings import NotificationSettings


@dataclass(frozen=True)
class Claim:
    """A claimed notification: everything its delivery needs, read in the claiming
    transaction (the send then touches no database)."""

    id: int
    firing_id: int
    user_id: int
    channel: str
    destination: str
    message: dict[str, Any]
    #: This attempt's number (1 for the first); also the claim's token in :func:`record`.
    attempts: int
    created_at: dt.datetime
    #: The owner's webhook signing secret (webhooks only).
    secret: str | None = None

    @property
    def delivery_id(self) -> str:
        """Stable across the attempts of this notification, distinct from every other one
        (the creation time guards against ids reused by a recreated database)."""
        return f"ntf_{self.id}_{int(self.created_at.timestamp() * 1000)}"


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Notification.status == DeliveryStatus.PENDING.value,
            Notification.next_attempt_at <= now,
        ),
        and_(
            Notification.status == DeliveryStatus.SENDING.value,
            Notification.claimed_until < now,
        ),
    )


def _claim(ids: Any, now: dt.datetime, settings: NotificationSettings) -> Any:
    return (
        update(Notification)
        .where(Notification.id.in_(ids), _due(now))
        .values(
            status=DeliveryStatus.SENDING.value,
            claimed_until=now + dt.timedelta(seconds=settings.claim_lease_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(
            Notification.id,
            Notification.firing_id,
            Notification.user_id,
            Notification.channel,
            Notification.destination,
            Notification.message,
            Notification.attempts,
            Notification.created_at,
        )
        .execution_options(synchronize_session=False)
    )


def _give_up_on_lapsed(now: dt.datetime, settings: NotificationSettings) -> Any:
    """A lapsed claim on the last allowed attempt: the worker died during it (perhaps because
    of it), so the notification fails instead of being claimed for ever."""
    return (
        update(Notification)
        .where(_due(now), Notification.attempts >= settings.max_attempts)
        .values(
            status=DeliveryStatus.FAILED.value,
            claimed_until=None,
            last_error=f"gave up after {settings.max_attempts} attempts: the worker stopped "
            "during the last one",
        )
        .execution_options(synchronize_session=False)
    )


def claim_due(
    sessions: sessionmaker[Session],
    settings: NotificationSettings,
    now: dt.datetime | None = None,
) -> list[Claim]:
    """Claim up to ``settings.batch_size`` due notifications (committed before returning)."""
    now = now or utcnow()
    candidates = (
        select(Notification.id)
        .where(_due(now))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(settings.batch_size)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks to skip
    )
    with sessions.begin() as session:
        session.execute(_give_up_on_lapsed(now, settings))
        if session.get_bind().dialect.name == "postgresql":
            # Lock the candidates first (skipping rows another worker holds), then claim
            # them: one UPDATE with the SELECT as its subquery may claim more than the LIMIT
            # there (a concurrently changed row makes it evaluate the subquery again).
            chosen: Any = list(session.scalars(candidates))
        else:
            # One statement, run under SQLite's write lock: a second worker waits, then
            # sees the rows left.
            chosen = candidates.scalar_subquery()
        rows = session.execute(_claim(chosen, now, settings)).all()
        secrets = {
            user_id: signing.secret_of(session, user_id)
            for user_id in sorted({row.user_id for row in rows if row.channel == "webhook"})
        }
    claims = [
        Claim(
            **row._asdict(), secret=secrets.get(row.user_id) if row.channel == "webhook" else None
        )
        for row in rows
    ]
    return sorted(claims, key=lambda c: c.id)


def _changes(
    claim: Claim, outcome: Outcome, settings: NotificationSettings, now: dt.datetime
) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "claimed_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.verdict == Verdict.SENT:
        return changes | {"status": DeliveryStatus.SENT.value, "sent_at": now}
    if outcome.verdict == Verdict.RETRY and claim.attempts < settings.max_attempts:
        wait = backoff_seconds(claim.attempts, settings, outcome.retry_after)
        return changes | {
            "status": DeliveryStatus.PENDING.value,
            "next_attempt_at": now + dt.timedelta(seconds=wait),
        }
    if outcome.verdict == Verdict.RETRY:
        changes["last_error"] = f"gave up after {claim.attempts} attempts: {outcome.error}"
    return changes | {"status": DeliveryStatus.FAILED.value}


def record(
    sessions: sessionmaker[Session],
    claim: Claim,
    outcome: Outcome,
    settings: NotificationSettings,
    now: dt.datetime | None = None,
) -> bool:
    """Store the outcome of ``claim``'s attempt; False when the claim was no longer ours."""
    now = now or utcnow()
    statement = (
        update(Notification)
        .where(
            Notification.id == claim.id,
            Notification.status == DeliveryStatus.SENDING.value,
            Notification.attempts == claim.attempts,
        )
        .values(**_changes(claim, outcome, settings, now))
        .execution_options(synchronize_session=False)
    )
    with sessions.begin() as session:
        return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
