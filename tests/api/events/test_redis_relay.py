"""The publisher's half of the Redis transport, on SQLite and on PostgreSQL, against a real
Redis: a commit adds its events to the stream (ids, types, times and payloads as stored); a
rollback adds nothing, nor does a savepoint rolled back inside a committed transaction; and
Redis being away never fails the commit (the event is stored; one warning, not one per
commit)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.database import OpsDatabase
from api.events import stream
from api.events.bus import EventType, publish
from api.events.tables import Event
from pipelines.core.settings import EventsSettings
from tests.api.events.streams import T
from tests.fixtures.processes import free_port

GOOD_ENTRY = {"id": "1", "type": "news_item", "ts": T.isoformat(), "user_id": "7", "payload": "{}"}


@dataclass(frozen=True)
class Publisher:
    sessions: sessionmaker[Session]
    settings: EventsSettings
    redis: redis.Redis

    def entries(self) -> list[Event]:
        """What the stream holds, as events."""
        entries = self.redis.xrange(self.settings.redis_stream)
        return [stream.event_of(fields) for _, fields in entries]


@pytest.fixture(scope="module")
def publisher(ops_database: OpsDatabase, redis_url: str) -> Iterator[Publisher]:
    # A session factory of its own: the hook stays on what this module publishes.
    sessions = sessionmaker(ops_database.engine, expire_on_commit=False)
    name = ops_database.engine.dialect.name
    settings = EventsSettings(
        transport="redis", redis_url=redis_url, redis_stream=f"rwa:events:{name}"
    )
    relay = stream.attach(sessions, settings)
    assert relay is not None
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield Publisher(sessions, settings, client)
    relay.close()


def test_a_commit_adds_its_events_to_the_stream_as_stored(publisher: Publisher) -> None:
    before = len(publisher.entries())
    with publisher.sessions() as session:
        rows = [
            publish(session, EventType.PRICE_UPDATE, T, {"asset_id": "usdc", "price": 0.99}),
            publish(session, EventType.NEWS_ITEM, T + dt.timedelta(minutes=1), {"n": 2}),
        ]
        session.flush()  # ids drawn early: what the stream carries is still the commit's
        assert len(publisher.entries()) == before
        session.commit()
    added = publisher.entries()[before:]
    assert [(e.id, e.type, e.ts, e.payload) for e in added] == [
        (r.id, r.type, r.ts, r.payload) for r in rows
    ]
    assert all(e.user_id is None for e in added)


def test_a_rollback_adds_nothing_and_a_rolled_back_savepoint_is_left_out(
    publisher: Publisher,
) -> None:
    before = len(publisher.entries())
    with publisher.sessions() as session:
        publish(session, EventType.NEWS_ITEM, T, {"gone": 1})
        session.flush()
        session.rollback()
    assert len(publisher.entries()) == before
    with publisher.sessions() as session:
        kept = publish(session, EventType.NEWS_ITEM, T, {"kept": 1})
        savepoint = session.begin_nested()
        publish(session, EventType.NEWS_ITEM, T, {"gone": 2})
        session.flush()
        savepoint.rollback()
        session.commit()
    added = publisher.entries()[before:]
    assert [(e.id, e.payload) for e in added] == [(kept.id, {"kept": 1})]


def test_redis_away_never_fails_the_commit(
    publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = publisher.settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}"})
    sessions = sessionmaker(publisher.sessions.kw["bind"], expire_on_commit=False)
    relay = stream.attach(sessions, nobody)
    assert relay is not None
    try:
        rows = []
        with caplog.at_level(logging.WARNING, logger=stream.__name__):
            for n in range(2):
                with sessions() as session:
                    rows.append(publish(session, EventType.NEWS_ITEM, T, {"away": n}))
                    session.commit()
    finally:
        relay.close()
    with sessions() as session:
        query = select(Event.payload).where(Event.id.in_([r.id for r in rows]))
        stored = session.scalars(query).all()
    assert sorted(p["away"] for p in stored) == [0, 1]
    # Logged once; the second commit left Redis alone.
    assert len([r for r in caplog.records if "Redis stream failed" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    "fields",
    [
        GOOD_ENTRY | {"type": "trades"},
        GOOD_ENTRY | {"ts": "2024-03-01T12:00:00"},
        GOOD_ENTRY | {"payload": "[1]"},
        GOOD_ENTRY | {"id": "x"},
        {"type": "news_item"},
    ],
    ids=["unknown-type", "naive-ts", "payload-not-object", "bad-id", "missing-fields"],
)
def test_a_stream_entry_not_of_this_schema_is_refused(fields: dict[str, str]) -> None:
    assert stream.event_of(GOOD_ENTRY).user_id == 7
    with pytest.raises((KeyError, ValueError)):
        stream.event_of(fields)
