"""The durable event channel in the operational database (the embedded default), on the
accounts' declarative base (one schema, one migration history: ``api/accounts/migrations``).

Every API worker reads the rows after the last id it saw, so an event published by any
process reaches the clients of every worker; old rows are pruned after a retention period.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.accounts.tables import Base, utcnow


class Event(Base):
    __tablename__ = "events"

    #: Increasing: the cursor of every reader (an INTEGER primary key is SQLite's rowid).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: "price_update", "alert_triggered", "portfolio_update" or "news_item".
    type: Mapped[str] = mapped_column(String(32))
    #: When what the event tells happened (a bar's time, a firing's time).
    ts: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Only this user may see it (an alert firing); None: every client whose tier may.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
