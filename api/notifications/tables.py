"""The notification outbox of the operational database, on the accounts' declarative base
(one schema, one migration history: ``api/accounts/migrations``).

A row is written in the same transaction as the firing it announces, so no firing is left
without its notifications and none is announced twice (unique per firing, channel and
destination). The message is rendered when the row is written: delivery needs nothing but the
row, and the log shows exactly what was sent.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.accounts.tables import Base, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    #: Claimed by a worker until ``claimed_until``; a crashed worker's claims lapse.
    SENDING = "sending"
    SENT = "sent"
    #: Given up after the last allowed attempt (or refused for good, e.g. a 4xx other than 429).
    FAILED = "failed"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint(
            "firing_id", "channel", "destination", name="uq_notifications_firing_channel"
        ),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    firing_id: Mapped[int] = mapped_column(ForeignKey("alert_firings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: :class:`~api.alerts.rules.ChannelType` value: "webhook", "email" or "telegram".
    channel: Mapped[str] = mapped_column(String(16))
    #: The webhook URL, e-mail address or Telegram chat id.
    destination: Mapped[str] = mapped_column(String(2048))
    #: The rendered message (JSON body of a webhook; subject and text of a mail or a chat).
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    #: The receiver's HTTP status (or SMTP reply code) of the last attempt.
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class WebhookSecret(Base):
    """The key a user's webhook deliveries are signed with (Standard Webhooks ``whsec_…``).

    Stored as is: HMAC needs the key itself on both sides, so it cannot be hashed like a
    password; it reaches only its owner (``GET /alerts/webhook-secret``) and the worker.
    """

    __tablename__ = "webhook_secrets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
