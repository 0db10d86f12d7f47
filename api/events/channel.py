"""Reading the durable channel: the events after a cursor, in id order, and pruning old ones.

Blocking (SQLAlchemy sessions): the fan-out calls these from a thread.

Ids are the cursor, but on PostgreSQL they are drawn from a sequence when a row is inserted,
not when its transaction commits: a long transaction may commit id 10 after a short one
committed id 11. :class:`Cursor` therefore keeps the ids it saw above the first missing one
and reads again from there until the gap fills (delivering the late event then) or is older
than :data:`GAP_GRACE_SECONDS` (a rolled-back transaction's id never fills). On SQLite writers
are serialised, ids follow commits and gaps do not arise.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.events.tables import Event

#: How long a missing id is waited for (the longest expected transaction of a publisher).
GAP_GRACE_SECONDS = 60.0
#: Most events one read returns.
READ_BATCH = 1000


class Identified(Protocol):
    @property
    def id(self) -> int: ...


Item = TypeVar("Item", bound=Identified)


def newest_id(session: Session) -> int:
    """The newest event's id (0 when there is none): where a reader that starts now begins."""
    return session.scalar(select(func.max(Event.id))) or 0


def events_after(session: Session, after: int, limit: int = READ_BATCH) -> Sequence[Event]:
    """Up to ``limit`` events with ``id > after``, oldest first."""
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    return session.scalars(query).all()


def prune(session: Session, older_than: dt.datetime) -> int:
    """Delete the events created before ``older_than``, except the newest event (SQLite
    gives a new row the greatest id plus one: were every row deleted, ids would start again
    below the readers' cursors). Commits; returns the rows deleted."""
    newest = newest_id(session)
    result = session.execute(delete(Event).where(Event.created_at < older_than, Event.id < newest))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


class Cursor:
    """Where a reader is: every id up to :attr:`position` is handled, and :attr:`seen` holds
    the ids above it already handled (those past a gap)."""

    def __init__(self, position: int, grace_seconds: float = GAP_GRACE_SECONDS) -> None:
        self.position = position
        self.seen: set[int] = set()
        self._grace = grace_seconds
        self._gap_since: float | None = None

    @property
    def high(self) -> int:
        """The greatest id handled."""
        return max(self.seen, default=self.position)

    def take(self, events: Sequence[Item], now: float | None = None) -> list[Item]:
        """The events (or anything with their ids) of ``events`` not handled before, in the
        order given; moves the cursor past them (and past a gap older than the grace
        period). ``events``: a read of the database after :attr:`position`, or what the
        Redis stream brought (which may repeat what the database gave)."""
        fresh = [e for e in events if e.id > self.position and e.id not in self.seen]
        self.seen.update(event.id for event in fresh)
        self._advance()
        now = time.monotonic() if now is None else now
        if not self.seen:
            self._gap_since = None
        elif self._gap_since is None:
            self._gap_since = now
        elif now - self._gap_since > self._grace:
            self.position = min(self.seen) - 1  # give the missing ids up
            self._advance()
            self._gap_since = now if self.seen else None
        return fresh

    def _advance(self) -> None:
        while self.position + 1 in self.seen:
            self.position += 1
            self.seen.remove(self.position)
