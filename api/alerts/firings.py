"""Reading the firings of a user's rules, and telling of a new one: what ``GET /alerts/firings``
answers and what an ``alert_triggered`` event carries (one schema for both, so the dashboard
reads a firing the same way from the page and from the live channel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.alerts.rules import Rule
from api.alerts.tables import AlertFiring, AlertRule
from api.events.bus import EventType, publish
from api.notifications.outbox import enqueue


@dataclass(frozen=True)
class RecordedFiring:
    """A firing as evaluation just recorded it (the columns of its row)."""

    id: int
    rule_id: int
    user_id: int
    asset_id: str
    condition_kind: str
    data_ts: dt.datetime
    fired_at: dt.datetime
    observed: dict[str, Any]


class FiringOut(BaseModel):
    """One firing of a rule for one asset, with the served values that fired it."""

    id: int
    rule_id: int
    rule_name: str = Field(description="The rule's name when it fired, or now.")
    asset_id: str
    condition_kind: str
    data_ts: dt.datetime = Field(description="The instant of the served data that fired it.")
    fired_at: dt.datetime
    observed: dict[str, JsonValue] = Field(
        description="The observed value under its kind's name (price, change_pct, "
        "deviation_bps, premium_bps, risk_score, sentiment, return_7d_pct), the rule's level "
        "or threshold, its window and what else the value was made of."
    )


class FiringPage(BaseModel):
    total: int = Field(description="The firings matching the filters, before paging.")
    limit: int
    offset: int
    firings: list[FiringOut]


def firing_out(firing: AlertFiring | RecordedFiring, rule_name: str) -> FiringOut:
    return FiringOut(
        id=firing.id,
        rule_id=firing.rule_id,
        rule_name=rule_name,
        asset_id=firing.asset_id,
        condition_kind=firing.condition_kind,
        data_ts=firing.data_ts,
        fired_at=firing.fired_at,
        observed=firing.observed,
    )


def page(
    session: Session,
    user_id: int,
    *,
    rule_id: int | None,
    since: dt.datetime | None,
    limit: int,
    offset: int,
) -> tuple[int, Sequence[FiringOut]]:
    """The user's firings (of ``rule_id`` only, fired at or after ``since``), newest first,
    and how many match in all."""
    where = [AlertFiring.user_id == user_id]
    if rule_id is not None:
        where.append(AlertFiring.rule_id == rule_id)
    if since is not None:
        where.append(AlertFiring.fired_at >= since)
    total = session.scalar(select(func.count()).select_from(AlertFiring).where(*where)) or 0
    query = (
        select(AlertFiring, AlertRule.name)
        .join(AlertRule, AlertRule.id == AlertFiring.rule_id)
        .where(*where)
        .order_by(AlertFiring.fired_at.desc(), AlertFiring.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total, [firing_out(firing, name) for firing, name in session.execute(query).all()]


def announce(session: Session, fired: Sequence[tuple[RecordedFiring, Rule]]) -> None:
    """Queue each firing's notifications (one per channel of its rule) and its
    ``alert_triggered`` event for the rule's owner, in the transaction that records them.
    The events are added after every notification: the outbox flushes on each call, so the
    events are then written together at the commit instead of one by one."""
    for firing, rule in fired:
        enqueue(session, firing, rule)
    # Without autoflush, PostgreSQL's NOTIFY of each event does not first write that event
    # alone: the events are inserted together at the commit.
    with session.no_autoflush:
        for firing, rule in fired:
            payload = firing_out(firing, rule.name or "").model_dump(mode="json")
            publish(
                session, EventType.ALERT_TRIGGERED, firing.fired_at, payload, user_id=rule.user_id
            )
