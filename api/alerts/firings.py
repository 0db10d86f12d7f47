"""Reading the firings of a user's rules, and telling of a new one: what ``GET /alerts/firings``
answers and what an ``alert_triggered`` event carries (one schema for both, so the dashboard
reads a firing the same way from the page and from the live channel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.alerts.service import to_rule
from api.alerts.tables import AlertFiring, AlertRule
from api.events.bus import EventType, publish
from api.notifications.outbox import enqueue


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


def firing_out(firing: AlertFiring, rule_name: str) -> FiringOut:
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


def announce(session: Session, firing: AlertFiring, rule: AlertRule) -> None:
    """Queue the firing's notifications (one per channel of its rule) and its
    ``alert_triggered`` event for the rule's owner, in the transaction that records it."""
    enqueue(session, firing, to_rule(rule))
    payload = firing_out(firing, rule.name).model_dump(mode="json")
    publish(session, EventType.ALERT_TRIGGERED, firing.fired_at, payload, user_id=rule.user_id)
