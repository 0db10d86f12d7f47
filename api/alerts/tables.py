"""The alert tables of the operational database, on the accounts' declarative base (one
schema, one migration history: ``api/accounts/migrations``).

A rule's target and condition kind are columns, so evaluation can select the rules of the
assets and kinds a load touched; the condition's parameters and the channels are JSON, read
back through :class:`~api.alerts.rules.Rule`, which validates them again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
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
