"""Publishing events into the durable channel, on SQLite and PostgreSQL: the row exists only
once the caller commits, PostgreSQL listeners are woken by the commit, and a serving load's
``price_update`` events name the assets whose latest bar changed, once."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from sqlalchemy import delete, select

from api.accounts.database import OpsDatabase
from api.events.bus import CHANNEL, EventMessage, EventType, publish
from api.events.channel import Cursor
from api.events.prices import publish_price_updates
from api.events.tables import Event
from pipelines.serving.store import ServingStore
from tests.fixtures.sample_data import bars, load_sample

T = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def _events(db: OpsDatabase, type: EventType) -> list[Event]:
    with db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type.value)))


def test_publish_is_part_of_the_callers_transaction(ops_database: OpsDatabase) -> None:
    with ops_database.sessions() as session:
        publish(session, EventType.NEWS_ITEM, T, {"title": "rolled back", "at": T})
        session.rollback()
    with ops_database.sessions() as session:
        event = publish(session, "news_item", T.replace(tzinfo=None), {"title": "kept", "at": T})
        session.commit()
    (stored,) = _events(ops_database, EventType.NEWS_ITEM)
    assert stored.id == event.id
    message = EventMessage.of(stored)
    assert message.type is EventType.NEWS_ITEM
    assert message.ts == T  # a naive time is taken as UTC
    assert message.payload == {"title": "kept", "at": T.isoformat().replace("+00:00", "Z")}


def test_an_unknown_type_is_refused(ops_database: OpsDatabase) -> None:
    with ops_database.sessions() as session, pytest.raises(ValueError, match="trade"):
        publish(session, "trade", T, {})


# NOTIFY is PostgreSQL's (SQLite readers poll): this one runs on PostgreSQL only.
@pytest.mark.parametrize("ops_db_url", ["postgresql"], indirect=True)
def test_postgresql_listeners_wake_at_commit_only(ops_database: OpsDatabase) -> None:
    assert ops_database.engine.dialect.name == "postgresql"
    url = ops_database.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with ops_database.sessions() as session:
            publish(session, EventType.PORTFOLIO_UPDATE, T, {"value": 1}, user_id=None)
            session.flush()
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before commit
            session.commit()
        (notified,) = listener.notifies(timeout=10, stop_after=1)
    assert notified.channel == CHANNEL


def test_price_updates_name_each_changed_asset_once(
    ops_database: OpsDatabase, store: ServingStore
) -> None:
    with ops_database.sessions() as session:
        session.execute(delete(Event).where(Event.type == EventType.PRICE_UPDATE.value))
        session.commit()
    load_sample(store)  # OUSG: 1h and 1d bars, BTC: 1d bars, USDC: none

    def publish_now() -> list[str]:
        with ops_database.sessions() as session:
            published = publish_price_updates(session, store)
            session.commit()
        return [p.asset_id for p in published]

    assert sorted(publish_now()) == ["btc", "ousg"]
    assert publish_now() == []  # the same data announces nothing new
    newest = T + dt.timedelta(days=30)
    store.upsert_ohlcv(bars("btc", "1d", 2, start=newest, step=dt.timedelta(days=1)))
    assert publish_now() == ["btc"]
    btc = [
        e for e in _events(ops_database, EventType.PRICE_UPDATE) if e.payload["asset_id"] == "btc"
    ]
    assert btc[-1].ts == newest + dt.timedelta(days=1)
    assert btc[-1].user_id is None
    assert btc[-1].payload == {
        "asset_id": "btc",
        "price": 101.25,
        "bar_ts": (newest + dt.timedelta(days=1)).isoformat(),
        "resolution": "1d",
        "change": 1.0,
        "change_pct": pytest.approx(1 / 100.25 * 100),
    }


def _rows(*ids: int) -> list[Event]:
    return [Event(id=i, type="news_item", ts=T, payload={}) for i in ids]


def test_the_cursor_waits_for_a_gap_then_gives_it_up() -> None:
    cursor = Cursor(10, grace_seconds=5)
    # 12 committed before 11 (PostgreSQL draws ids at insert, not at commit).
    assert [e.id for e in cursor.take(_rows(12), now=0)] == [12]
    assert cursor.position == 10
    # Read again from 10: 12 is not handed out twice, the late 11 is.
    assert [e.id for e in cursor.take(_rows(11, 12, 13), now=1)] == [11, 13]
    assert (cursor.position, cursor.seen) == (13, set())
    # 14 never comes (a rolled-back transaction's id): given up after the grace period.
    assert [e.id for e in cursor.take(_rows(15), now=2)] == [15]
    assert [e.id for e in cursor.take(_rows(15), now=4)] == []
    assert cursor.position == 13
    assert [e.id for e in cursor.take(_rows(15, 16), now=8)] == [16]
    assert (cursor.position, cursor.seen) == (16, set())
