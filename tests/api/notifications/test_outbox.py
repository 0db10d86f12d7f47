"""The outbox on both backends: one row per channel, rendered messages, idempotent, and
written in the caller's transaction (nothing without its commit)."""

from __future__ import annotations

from sqlalchemy import func, select

from api.accounts.database import OpsDatabase
from api.notifications.outbox import EVENT_TYPE, enqueue
from api.notifications.tables import DeliveryStatus, Notification
from tests.api.notifications.conftest import FiringMaker

CHANNELS = [
    {"type": "webhook", "url": "https://hooks.example.com/rwa?token=x"},
    {"type": "email", "address": "ada@example.com"},
    {"type": "telegram", "chat_id": "-100123"},
]


def _count(database: OpsDatabase, firing_id: int) -> int:
    with database.sessions() as session:
        query = select(func.count()).where(Notification.firing_id == firing_id)
        return session.scalar(query) or 0


def test_one_rendered_row_per_channel_and_a_second_call_adds_nothing(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    firing, rule = firings.make(CHANNELS)
    with ops_database.sessions() as session:
        firing = session.merge(firing)
        rows = enqueue(session, firing, rule)
        session.commit()
        assert [(r.channel, r.destination) for r in rows] == [
            ("webhook", "https://hooks.example.com/rwa?token=x"),
            ("email", "ada@example.com"),
            ("telegram", "-100123"),
        ]
        assert {r.status for r in rows} == {DeliveryStatus.PENDING.value}
        assert {r.user_id for r in rows} == {firing.user_id}
        webhook, mail, telegram = (r.message for r in rows)
        assert webhook["type"] == EVENT_TYPE
        data = webhook["data"]
        assert data["firing_id"] == firing.id and data["asset"]["symbol"] == "USDC"
        assert data["observed"] == {"close": 0.9931, "level": 0.995}
        assert data["data_ts"] == "2026-12-06T20:00:00Z"
        assert data["rule"]["condition"] == {"kind": "price", "direction": "below", "level": 0.995}
        for message in (mail, telegram):
            assert message["subject"] == "Alert: USDC under peg (USDC)"
            assert "price: direction below, level 0.995" in message["text"]
            assert "close 0.9931, level 0.995" in message["text"]
            assert "2026-12-06T20:00:00Z" in message["text"]
        # Again, in a new transaction: the unique key says these are already owed.
        assert enqueue(session, firing, rule) == []
        session.commit()
    assert _count(ops_database, firing.id) == 3


def test_rows_belong_to_the_callers_transaction(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    firing, rule = firings.make(CHANNELS[:2])
    with ops_database.sessions() as session:
        assert len(enqueue(session, session.merge(firing), rule)) == 2
        session.rollback()
    assert _count(ops_database, firing.id) == 0


def test_a_rule_without_channels_enqueues_nothing(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    firing, rule = firings.make([])
    with ops_database.sessions() as session:
        assert enqueue(session, session.merge(firing), rule) == []
