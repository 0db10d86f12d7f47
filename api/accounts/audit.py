"""The audit log: security-relevant actions, appended and never edited, except that deleting
an account replaces its user id by a pseudonym in the entries that name it.

The pseudonym is an HMAC of the user id under the token signing key: stable (all entries of
one deleted account share it, so an investigation can still follow them), but not reversible
to the id without the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from api.accounts.tables import AuditEntry

#: Longest user agent kept (the column's size).
_USER_AGENT_CHARS = 256


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, as the audit log and the session list keep it."""

    address: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.user_agent is not None and len(self.user_agent) > _USER_AGENT_CHARS:
            object.__setattr__(self, "user_agent", self.user_agent[:_USER_AGENT_CHARS])


def record(
    session: Session,
    action: str,
    outcome: Outcome,
    client: ClientInfo,
    *,
    actor_user_id: int | None = None,
    subject_user_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry to the session's transaction (committed with the action it records).
    ``detail`` must never hold passwords, tokens, keys or codes."""
    session.add(
        AuditEntry(
            action=action,
            outcome=outcome.value,
            actor_user_id=actor_user_id,
            subject_user_id=subject_user_id,
            client_address=client.address,
            user_agent=client.user_agent,
            detail=detail,
        )
    )


def pseudonym(user_id: int, key: bytes) -> str:
    digest = hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"deleted-{digest[:24]}"


def pseudonymise(session: Session, user_id: int, key: bytes) -> str:
    """Replace ``user_id`` by its pseudonym wherever the log names it; returns the pseudonym."""
    alias = pseudonym(user_id, key)
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor_user_id == user_id)
        .values(actor_user_id=None, actor_pseudonym=alias)
    )
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.subject_user_id == user_id)
        .values(subject_user_id=None, subject_pseudonym=alias)
    )
    return alias


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What an admin asks the log for; entries come newest first."""

    action: str | None = None
    outcome: str | None = None
    user_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def query(self) -> Select[AuditEntry]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc())
        if self.action is not None:
            query = query.where(AuditEntry.action == self.action)
        if self.outcome is not None:
            query = query.where(AuditEntry.outcome == self.outcome)
        if self.user_id is not None:
            query = query.where(
                (AuditEntry.actor_user_id == self.user_id)
                | (AuditEntry.subject_user_id == self.user_id)
            )
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        return query


def entries(session: Session, where: AuditFilter, limit: int, offset: int) -> list[AuditEntry]:
    return list(session.scalars(where.query().limit(limit).offset(offset)))
