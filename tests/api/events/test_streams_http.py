"""``/ws`` and ``/events/stream`` against a real uvicorn on a SQLite operational database
(the worker polls; LISTEN/NOTIFY on PostgreSQL is what test_two_workers.py runs on, to keep
the suite's time): credentials refused or
accepted in each documented place, subscriptions, another user's alert never delivered, the
tier gate on intraday prices, bad messages answered, a slow client dropped with a reason while
a fast one keeps receiving, and SSE resuming after ``Last-Event-ID``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from api.accounts import keys
from api.accounts.audit import ClientInfo
from api.accounts.principal import Role, Scope
from api.events.bus import EventType
from tests.api.events.streams import (
    RECEIVE_SECONDS,
    next_event,
    publish_now,
    receive,
    sse_events,
    subscribe,
    ws_client,
)
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, open_accounts, provision
from tests.fixtures.sample_data import sample_duckdb

#: Small, so that a client that reads nothing is dropped after a few large events.
CLIENT_QUEUE = 16
HEARTBEAT_SECONDS = 1


@dataclass(frozen=True)
class Server:
    url: str
    ops_db_url: str
    log: Path
    alice: ApiCredentials  # enterprise
    bob: ApiCredentials  # explorer: no intraday bars
    alice_key: str


OPERATOR = keys.Change(ClientInfo(address=None, user_agent=None), actor_user_id=None)


def _api_key(credentials: ApiCredentials, scopes: set[Scope]) -> tuple[int, str]:
    """A new key of ``credentials``' user: its id and raw value."""
    accounts = open_accounts(credentials.settings)
    try:
        with accounts.database.sessions() as session:
            row, raw = keys.create(session, credentials.user_id, "push", scopes, OPERATOR)
            session.commit()
    finally:
        accounts.close()
    return row.id, raw


def _revoke(credentials: ApiCredentials, key_id: int) -> None:
    accounts = open_accounts(credentials.settings)
    try:
        with accounts.database.sessions() as session:
            keys.revoke(session, credentials.user_id, key_id, OPERATOR)
            session.commit()
    finally:
        accounts.close()


@pytest.fixture(scope="module")
def ops_db_url(ops_workdir: Path) -> str:
    return f"sqlite:///{ops_workdir / 'ops.db'}"


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path) -> Iterator[Server]:
    settings = accounts_settings(ops_workdir, ops_db_url)
    alice = provision(settings, Role.ENTERPRISE)
    bob = provision(settings, Role.EXPLORER)
    serving = sample_duckdb(ops_workdir / "serving.duckdb")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RWA_EVENTS_CLIENT_QUEUE", str(CLIENT_QUEUE))
        env.setenv("RWA_EVENTS_HEARTBEAT_SECONDS", str(HEARTBEAT_SECONDS))
        # Every credential looked up afresh, so a revocation shows at the next heartbeat.
        env.setenv("RWA_AUTH_CACHE_SECONDS", "0")
        with running_server(serving, ops_workdir, alice) as url:
            _, key = _api_key(alice, {Scope.READ_DATA})
            yield Server(url, ops_db_url, ops_workdir / "server.log", alice, bob, key)


def _closed_with(client_code: int, exc: ConnectionClosed) -> bool:
    return exc.rcvd is not None and exc.rcvd.code == client_code


def _close_of(client: ClientConnection) -> ConnectionClosed:
    """How the server closed ``client``, after every message it sent before."""
    try:
        while True:
            client.recv(timeout=RECEIVE_SECONDS)
    except ConnectionClosed as closed:
        return closed


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "rwa_nope_nope"}],
    ids=["none", "bad-token", "bad-key"],
)
def test_a_handshake_without_valid_credentials_is_closed_4401(
    server: Server, headers: dict[str, str]
) -> None:
    with ws_client(server.url, headers=headers) as client:
        closed = _close_of(client)
    assert _closed_with(4401, closed), closed
    assert closed.rcvd is not None
    assert closed.rcvd.reason in ("not authenticated", "invalid credentials")
    assert httpx.get(f"{server.url}/events/stream", timeout=30).status_code == 401


def test_a_key_without_read_data_is_closed_4403(server: Server) -> None:
    _, key = _api_key(server.alice, {Scope.MANAGE_ACCOUNT})
    with ws_client(server.url, headers={"X-API-Key": key}) as client:
        closed = _close_of(client)
    assert _closed_with(4403, closed), closed


def test_the_login_cookie_is_taken_from_the_apis_own_pages_only(server: Server) -> None:
    cookie = {"Cookie": f"rwa_access={server.alice.access_token}"}
    own_origin = {"Origin": server.url, **cookie}
    with ws_client(server.url, headers=own_origin) as client:
        assert next_event(client)["type"] == "subscriptions"
    # A page of another site cannot ride on the cookie (cross-site WebSocket hijacking).
    with ws_client(server.url, headers={"Origin": "https://evil.example", **cookie}) as client:
        closed = _close_of(client)
    assert _closed_with(4401, closed), closed


def test_a_revoked_key_ends_the_session_at_the_next_heartbeat(server: Server) -> None:
    key_id, key = _api_key(server.alice, {Scope.READ_DATA})
    with ws_client(server.url, headers={"X-API-Key": key}) as client:
        assert next_event(client)["type"] == "subscriptions"
        _revoke(server.alice, key_id)
        closed = _close_of(client)
    assert _closed_with(4401, closed), closed
    assert closed.rcvd is not None
    assert closed.rcvd.reason == "credentials expired or revoked"
    # The event stream likewise ends, saying why.
    key_id, key = _api_key(server.alice, {Scope.READ_DATA})
    headers = {"X-API-Key": key}
    with httpx.stream("GET", f"{server.url}/events/stream", headers=headers, timeout=30) as stream:
        _revoke(server.alice, key_id)
        (ending,) = sse_events(stream, 1)
    assert ending["event"] == "close"
    assert json.loads(ending["data"])["payload"] == {"detail": "credentials expired or revoked"}


def test_alerts_reach_their_owner_only_and_intraday_prices_paid_tiers_only(
    server: Server,
) -> None:
    # Alice: an API key in the browser's subprotocol; Bob: his access token as a header.
    with (
        ws_client(server.url, subprotocols=["rwa.v1", f"rwa.bearer.{server.alice_key}"]) as alice,
        ws_client(server.url, headers=server.bob.headers, query="types=alert_triggered") as bob,
    ):
        assert alice.subprotocol == "rwa.v1"
        assert next_event(alice)["payload"] == {"types": []}
        assert next_event(bob)["payload"] == {"types": ["alert_triggered"]}
        subscribe(alice, EventType.ALERT_TRIGGERED, EventType.PRICE_UPDATE)
        subscribe(bob, EventType.PRICE_UPDATE)
        publish_now(
            server.ops_db_url,
            EventType.ALERT_TRIGGERED,
            [{"for": "bob"}],
            user_id=server.bob.user_id,
        )
        publish_now(server.ops_db_url, EventType.PRICE_UPDATE, [{"resolution": "1h", "n": 1}])
        publish_now(
            server.ops_db_url,
            EventType.ALERT_TRIGGERED,
            [{"for": "alice"}],
            user_id=server.alice.user_id,
        )
        publish_now(server.ops_db_url, EventType.PRICE_UPDATE, [{"resolution": "1d", "n": 2}])
        seen_by_alice = [next_event(alice) for _ in range(3)]
        seen_by_bob = [next_event(bob) for _ in range(2)]
    assert [(m["type"], m["payload"]) for m in seen_by_alice] == [
        ("price_update", {"resolution": "1h", "n": 1}),
        ("alert_triggered", {"for": "alice"}),
        ("price_update", {"resolution": "1d", "n": 2}),
    ]
    assert seen_by_alice[0]["ts"] == "2024-03-01T12:00:00Z"
    # Bob: his own alert, and the daily price only (the explorer tier has no intraday bars).
    assert [(m["type"], m["payload"]) for m in seen_by_bob] == [
        ("alert_triggered", {"for": "bob"}),
        ("price_update", {"resolution": "1d", "n": 2}),
    ]


def test_bad_messages_are_answered_and_the_session_goes_on(server: Server) -> None:
    with ws_client(server.url, headers=server.alice.headers) as client:
        next_event(client)  # the subscriptions on connecting
        client.send("not json")
        assert next_event(client)["type"] == "error"
        client.send(json.dumps({"action": "subscribe", "types": ["trades"]}))
        error = next_event(client)
        assert error["type"] == "error"
        assert error["payload"]["field"] == "types.0"
        client.send(json.dumps({"action": "shout"}))
        assert next_event(client)["payload"]["field"] == "action"
        client.send(b"\x00binary")
        assert "text" in next_event(client)["payload"]["detail"]
        client.send(json.dumps({"action": "ping"}))
        assert next_event(client)["type"] == "pong"
        # Idle: heartbeats keep coming (every second here).
        assert receive(client, timeout=RECEIVE_SECONDS)["type"] == "heartbeat"
        subscribe(client, EventType.NEWS_ITEM)
        client.send(json.dumps({"action": "unsubscribe", "types": ["news_item"]}))
        assert next_event(client)["payload"] == {"types": []}
    with ws_client(server.url, headers=server.alice.headers, query="types=trades") as client:
        closed = _close_of(client)
    assert _closed_with(1008, closed), closed


def _dropped(server: Server) -> bool:
    return "event client dropped" in server.log.read_text()


def test_a_slow_client_is_dropped_while_a_fast_one_keeps_receiving(server: Server) -> None:
    # Random, so that the connection's compression (permessage-deflate) cannot shrink it.
    blob = secrets.token_urlsafe(192_000)
    with (
        ws_client(server.url, headers=server.alice.headers, query="types=news_item") as fast,
        ws_client(
            server.url,
            headers=server.alice.headers,
            query="types=news_item",
            receive_buffer=4096,
        ) as slow,
    ):
        next_event(fast)
        sent = 0
        # Rounds of four large events, each read by the fast client before the next: its
        # queue never holds more than four, while the slow one's fills once the sockets'
        # buffers are full.
        while not _dropped(server):
            assert sent < 200, "the slow client was never dropped"
            publish_now(
                server.ops_db_url,
                EventType.NEWS_ITEM,
                [{"n": sent + i, "blob": blob} for i in range(4)],
            )
            for i in range(4):
                assert next_event(fast)["payload"]["n"] == sent + i
            sent += 4
        closed = _close_of(slow)
        # The fast client is still served after the drop.
        publish_now(server.ops_db_url, EventType.NEWS_ITEM, [{"n": -1}])
        assert next_event(fast)["payload"] == {"n": -1}
    assert _closed_with(4008, closed), closed
    assert closed.rcvd is not None
    assert closed.rcvd.reason.startswith("slow consumer")


def test_server_sent_events_stream_and_resume_after_last_event_id(server: Server) -> None:
    url = f"{server.url}/events/stream"
    params = {"types": "portfolio_update", "max_seconds": "30"}
    with httpx.Client(headers=server.alice.headers, timeout=RECEIVE_SECONDS) as http:
        assert http.get(url, params={"types": "trades"}).status_code == 422
        with http.stream("GET", url, params=params) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            # Headers came: the stream is subscribed.
            publish_now(server.ops_db_url, EventType.PORTFOLIO_UPDATE, [{"n": 1}, {"n": 2}])
            first, second = sse_events(response, 2)
        assert first["event"] == "portfolio_update"
        assert json.loads(first["data"])["payload"] == {"n": 1}
        publish_now(server.ops_db_url, EventType.PORTFOLIO_UPDATE, [{"n": 3}])
        # Read from the channel (the backlog) or handed out live: either way, after n=2.
        resume = {"Last-Event-ID": first["id"]}
        with http.stream("GET", url, params=params, headers=resume) as response:
            missed = sse_events(response, 2)
    assert [json.loads(e["data"])["payload"] for e in missed] == [{"n": 2}, {"n": 3}]
    assert int(missed[0]["id"]) == int(second["id"])
