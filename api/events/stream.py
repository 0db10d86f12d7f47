"""The Redis transport of the events (``RWA_EVENTS_TRANSPORT=redis``, production): after a
publisher's transaction commits, its events are also added to a Redis stream, which every
API worker blocks on instead of polling the operational database.

The database stays the record: :func:`~api.events.bus.publish` is unchanged (an event exists
exactly when its transaction commits), and :func:`attach` hooks a session factory so that
each commit hands the events it wrote to the stream (``XADD``, capped at about
``redis_maxlen`` entries). A rolled-back transaction adds nothing. Redis never fails a
commit: an ``XADD`` that fails is logged once and Redis is left alone for
:data:`RETRY_AFTER_SECONDS`; the workers find the events the stream lacks in the database by
their cursor (:mod:`api.push.stream_reader`).

Each entry carries the event's ``id`` (the cursor), ``type``, ``ts``, ``user_id`` and
``payload`` (JSON); :func:`event_of` reads one back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from sqlalchemy import event as orm_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from api.events.bus import EventType
from api.events.tables import Event
from pipelines.core.settings import EventsSettings

logger = logging.getLogger(__name__)

#: Where a session keeps the events its open transaction flushed (until commit or rollback).
PENDING_KEY = "rwa.events.stream_pending"
#: After a failed XADD, commits skip Redis this long (not one timeout per commit).
RETRY_AFTER_SECONDS = 30.0
#: A publisher waits this long for Redis at most (its commit is already done).
SOCKET_TIMEOUT_SECONDS = 2.0


def fields_of(event: Event) -> dict[str, str]:
    """A stream entry of a flushed event."""
    return {
        "id": str(event.id),
        "type": event.type,
        "ts": event.ts.isoformat(),
        "user_id": "" if event.user_id is None else str(event.user_id),
        "payload": json.dumps(event.payload, separators=(",", ":")),
    }


def event_of(fields: Mapping[str, str]) -> Event:
    """The event a stream entry carries (not attached to any session). Raises KeyError or
    ValueError on an entry this module did not write."""
    payload = json.loads(fields["payload"])
    ts = dt.datetime.fromisoformat(fields["ts"])
    if not isinstance(payload, dict) or ts.tzinfo is None:
        raise ValueError("not an event entry")
    return Event(
        id=int(fields["id"]),
        type=EventType(fields["type"]).value,
        ts=ts,
        user_id=int(fields["user_id"]) if fields["user_id"] else None,
        payload=payload,
    )


class StreamRelay:
    """Adds committed events to the stream; one per publishing process."""

    def __init__(self, client: redis.Redis, stream: str, maxlen: int) -> None:
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self._lock = threading.Lock()
        self._paused_until = 0.0

    @classmethod
    def open(cls, settings: EventsSettings) -> StreamRelay:
        if settings.redis_url is None:
            raise ValueError("the redis transport needs RWA_EVENTS_REDIS_URL")
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        return cls(client, settings.redis_stream, settings.redis_maxlen)

    def send(self, events: Sequence[Event]) -> bool:
        """XADD ``events`` in one round trip; False (logged at the first failure of a run of
        them) when Redis failed or is being left alone after a failure. Never raises."""
        if not events:
            return True
        with self._lock:
            if time.monotonic() < self._paused_until:
                return False
        try:
            pipe = self.client.pipeline(transaction=False)
            for event in events:
                pipe.xadd(self.stream, fields_of(event), maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
        except Exception as exc:  # Redis down, or anything else: the commit stands
            with self._lock:
                first = self._paused_until == 0.0
                self._paused_until = time.monotonic() + RETRY_AFTER_SECONDS
            if first:
                logger.warning(
                    "adding events to the Redis stream failed (%s: %s); the API workers read "
                    "them from the database; retrying Redis in %.0f s",
                    type(exc).__name__,
                    exc,
                    RETRY_AFTER_SECONDS,
                )
            return False
        with self._lock:
            if self._paused_until:
                logger.info("the Redis event stream is reachable again")
            self._paused_until = 0.0
        return True

    def close(self) -> None:
        self.client.close()


def attach(sessions: sessionmaker[Session], settings: EventsSettings) -> StreamRelay | None:
    """With the redis transport, hook ``sessions`` so that every commit of a session it makes
    adds that transaction's events to the stream; the relay (close it with the database), or
    None with the database transport (nothing hooked)."""
    if settings.transport != "redis":
        return None
    relay = StreamRelay.open(settings)

    def after_flush(session: Session, _context: Any) -> None:
        # Still the pre-flush view: ``new`` holds what was just inserted, ids assigned.
        flushed = [obj for obj in session.new if isinstance(obj, Event)]
        if flushed:
            session.info.setdefault(PENDING_KEY, []).extend(flushed)

    def after_commit(session: Session) -> None:
        pending: list[Event] = session.info.pop(PENDING_KEY, [])
        # An event flushed in a savepoint that was rolled back is transient again: skipped.
        committed = [e for e in pending if inspect(e).persistent]
        relay.send(sorted(committed, key=lambda e: e.id))

    def after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:  # the whole transaction is gone: nothing to send
            session.info.pop(PENDING_KEY, None)

    orm_event.listen(sessions, "after_flush", after_flush)
    orm_event.listen(sessions, "after_commit", after_commit)
    orm_event.listen(sessions, "after_soft_rollback", after_soft_rollback)
    return relay
