"""The alert tables of the operational database, on the accounts' declarative base (one
schema, one migration history: ``api/accounts/migrations``).

A rule's target and condition kind are columns, so evaluation can select the rules of the
assets and kinds a load touched; the condition's parameters and the channels are JSON, read
back through :class:`~api.alerts.rules.Rule`, which validates them again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.accounts.tables import Base, utcnow


class AlertRule(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_active_kind", "active", "condition_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: "asset" (``asset_id`` set) or "asset_class" (``asset_class`` set).
    target_kind: Mapped[str] = mapped_column(String(16))
    asset_id: Mapped[str | None] = mapped_column(String(64), default=None)
    asset_class: Mapped[str | None] = mapped_column(String(32), default=None)
    #: :class:`~api.alerts.rules.ConditionKind`; ``condition`` holds it too, with the parameters.
    condition_kind: Mapped[str] = mapped_column(String(32))
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    cooldown_minutes: Mapped[int] = mapped_column(Integer)
    hold_minutes: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Changed by every edit: evaluation state kept for a rule is void when this moves.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertState(Base):
    """Where a rule stands for one asset: what makes evaluation edge-triggered and idempotent.

    One row per (rule, asset) ever evaluated. ``rule_updated_at`` is the rule's
    ``updated_at`` when the state was written: an edited rule starts from a clean state.
    """

    __tablename__ = "alert_states"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_updated_at: Mapped[dt.datetime]
    #: The condition held at the last evaluation.
    condition_true: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When it started holding without a break (what "holds for N minutes" measures).
    true_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Set by a firing; the rule may fire again only after the condition cleared and the
    #: cooldown since this instant passed.
    last_fired_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: The newest served-data instant evaluated: data at or before it is not evaluated again.
    last_data_ts: Mapped[dt.datetime | None] = mapped_column(default=None)
    evaluated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertFiring(Base):
    """One firing of a rule for one asset, with the served values that fired it.

    Unique per (rule, asset, served-data instant): two evaluators of the same load (the
    Dagster asset and the worker) cannot both record it.
    """

    __tablename__ = "alert_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "asset_id", "data_ts", name="uq_alert_firings_rule_asset_ts"),
        Index("ix_alert_firings_user_fired", "user_id", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    asset_id: Mapped[str] = mapped_column(String(64))
    condition_kind: Mapped[str] = mapped_column(String(32))
    #: The instant of the served data that made the condition true (a bar's close time).
    data_ts: Mapped[dt.datetime]
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: What fired it: the observed value(s), the threshold, the window; JSON-safe numbers.
    observed: Mapped[dict[str, Any]] = mapped_column(JSON)
