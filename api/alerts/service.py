"""Storing and reading alert rules. Every read and write takes the owner's id: a rule of
another user is not found (the routes answer 404, never 403, so ids reveal nothing).

Routes pass the owner's tier limit (``api.security.tiers``); this module counts against it
under a lock on the owner's row (PostgreSQL), or after taking SQLite's write lock with the
insert itself, so two concurrent creations cannot both slip under the limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.accounts.tables import User, utcnow
from api.alerts.rules import (
    STORED,
    AssetTarget,
    ClassTarget,
    Rule,
    RulePatch,
    RuleSpec,
    describe,
)
from api.alerts.tables import AlertRule

#: Longest stored name (the column's length).
NAME_LENGTH = 100


class RuleLimitError(Exception):
    """The user already owns as many rules as their tier allows."""


class RuleConflictError(Exception):
    """A change whose fields are valid but whose result is not a valid rule (a peg alert
    moved onto bitcoin): it conflicts with the rule's other fields."""


def _columns(spec: RuleSpec) -> dict[str, Any]:
    """The table's columns of a rule spec (everything but the owner and times)."""
    target = spec.target
    asset_id = target.asset_id if isinstance(target, AssetTarget) else None
    asset_class = target.asset_class if isinstance(target, ClassTarget) else None
    return {
        "name": spec.name or describe(spec)[:NAME_LENGTH],
        "target_kind": target.kind,
        "asset_id": asset_id,
        "asset_class": asset_class,
        "condition_kind": spec.condition.kind.value,
        "condition": spec.condition.model_dump(mode="json"),
        "channels": [channel.model_dump(mode="json") for channel in spec.channels],
        "cooldown_minutes": spec.cooldown_minutes,
        "hold_minutes": spec.hold_minutes,
        "active": spec.active,
    }


def spec_body(row: AlertRule) -> dict[str, Any]:
    """The stored rule as the JSON body that would create it."""
    if row.target_kind == "asset":
        target = {"kind": "asset", "asset_id": row.asset_id}
    else:
        target = {"kind": "asset_class", "asset_class": row.asset_class}
    return {
        "name": row.name,
        "target": target,
        "condition": row.condition,
        "channels": row.channels,
        "cooldown_minutes": row.cooldown_minutes,
        "hold_minutes": row.hold_minutes,
        "active": row.active,
    }


def to_rule(row: AlertRule) -> Rule:
    """The typed rule of a row (validated again: what evaluation and the API read)."""
    times = {"created_at": row.created_at, "updated_at": row.updated_at}
    body = spec_body(row) | {"id": row.id, "user_id": row.user_id} | times
    return Rule.model_validate(body, context=STORED)


def count(session: Session, user_id: int) -> int:
    query = select(func.count()).select_from(AlertRule).where(AlertRule.user_id == user_id)
    return session.scalar(query) or 0


def create(session: Session, user_id: int, spec: RuleSpec, limit: int | None) -> AlertRule:
    """Store a new rule for ``user_id``; raises :class:`RuleLimitError` when that would make
    more than ``limit`` rules (None: no limit). The caller commits."""
    # PostgreSQL: concurrent creations by one user queue on their row. SQLite ignores FOR
    # UPDATE; there the insert below takes the database's write lock before the count.
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    now = utcnow()
    row = AlertRule(user_id=user_id, created_at=now, updated_at=now, **_columns(spec))
    session.add(row)
    session.flush()
    if limit is not None and count(session, user_id) > limit:
        session.rollback()
        raise RuleLimitError(f"at most {limit} alert rules")
    return row


def get(session: Session, user_id: int, rule_id: int) -> AlertRule | None:
    """The rule ``rule_id`` if ``user_id`` owns it, else None."""
    row = session.get(AlertRule, rule_id)
    return row if row is not None and row.user_id == user_id else None


def page(
    session: Session, user_id: int, limit: int, offset: int
) -> tuple[int, Sequence[AlertRule]]:
    """The user's rules, oldest first, and how many there are in all."""
    query = (
        select(AlertRule)
        .where(AlertRule.user_id == user_id)
        .order_by(AlertRule.id)
        .limit(limit)
        .offset(offset)
    )
    return count(session, user_id), session.scalars(query).all()


def update(row: AlertRule, patch: RulePatch, now: dt.datetime | None = None) -> AlertRule:
    """Apply ``patch`` to ``row``: the merged rule is validated as a whole; raises
    :class:`RuleConflictError` naming the field when it is not valid. The caller commits."""
    changes = patch.model_dump(mode="json", exclude_unset=True)
    merged = spec_body(row) | changes
    if "name" in changes and changes["name"] is None:
        merged["name"] = None  # cleared: the summary of the (new) condition names it
    elif "name" not in changes and _names_itself(row):
        merged["name"] = None  # an unnamed rule keeps a name that describes it
    try:
        spec = RuleSpec.model_validate(merged)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise RuleConflictError(f"the changed rule is not valid: {where}: {message}") from None
    for column, value in _columns(spec).items():
        setattr(row, column, value)
    row.updated_at = now or utcnow()
    return row


def _names_itself(row: AlertRule) -> bool:
    try:
        return row.name == describe(RuleSpec.model_validate(spec_body(row)))[:NAME_LENGTH]
    except ValidationError:  # pragma: no cover - stored rules were validated
        return False


def delete(session: Session, user_id: int, rule_id: int) -> bool:
    """Delete the rule if ``user_id`` owns it; False when there is no such rule of theirs."""
    row = get(session, user_id, rule_id)
    if row is None:
        return False
    session.delete(row)
    return True


def rules_of(session: Session, user_id: int) -> list[Rule]:
    """All of a user's rules, oldest first (their data export)."""
    query = select(AlertRule).where(AlertRule.user_id == user_id).order_by(AlertRule.id)
    return [to_rule(row) for row in session.scalars(query)]


def active_rules(session: Session) -> list[Rule]:
    """Every active rule of every active user: what an evaluation reads."""
    query = (
        select(AlertRule)
        .join(User, User.id == AlertRule.user_id)
        .where(AlertRule.active.is_(True), User.is_active.is_(True))
        .order_by(AlertRule.id)
    )
    return [to_rule(row) for row in session.scalars(query)]
