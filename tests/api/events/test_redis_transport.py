"""The Redis transport end to end: a real uvicorn with ``RWA_EVENTS_TRANSPORT=redis`` on a
SQLite operational database, its database fallback read set to an hour (so what arrives in
seconds came through the stream), reaching the real Redis through a loopback proxy the tests
can cut. Publishers reach Redis directly, as a load or the alerts worker would.

What the worker counts in ``/metrics`` (events handed out by source, whether it follows the
stream) proves which path delivered: committed events reach WebSocket and SSE clients through
the stream; a rolled-back publish reaches neither the stream nor a client; an event committed
by a publisher that died before its ``XADD`` is found in the database by the gap it leaves;
with Redis cut off the worker reads the database, and follows the stream again once it is
back; a worker whose Redis was never there serves from the database from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from api.accounts.database import OpsDatabase
from api.accounts.principal import Principal, Role
from api.events import stream
from api.events.bus import EventType, publish
from api.push.hub import EventHub
from pipelines.core.settings import EventsSettings, OpsDbSettings
from tests.api.events.streams import (
    RECEIVE_SECONDS,
    T,
    next_event,
    publish_now,
    sse_events,
    ws_client,
)
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.processes import free_port
from tests.fixtures.sample_data import sample_duckdb

STREAM = "rwa:events:transport-test"
METRICS_TOKEN = secrets.token_urlsafe(16)
NEWS = "types=news_item"


class CuttableProxy:
    """A loopback TCP proxy to Redis: :meth:`cut` closes every connection and refuses new
    ones (Redis gone, for the server only), :meth:`restore` accepts them again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._accepting: threading.Thread | None = None

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self._stop.clear()
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        self._stop.set()
        if self._accepting is not None:
            self._accepting.join()  # the port is free again once it returns
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while not self._stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
                with self._lock:
                    self._open |= {client, upstream}
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass(frozen=True)
class Server:
    url: str
    ops_db_url: str
    alice: ApiCredentials
    proxy: CuttableProxy
    #: What a publisher (a load, the alerts worker) runs with: Redis reached directly.
    publisher: EventsSettings
    redis: redis.Redis

    def metrics(self) -> dict[str, float]:
        """The worker's event counters: ``stream``, ``database`` and ``followers``."""
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        text = httpx.get(f"{self.url}/metrics", headers=headers, timeout=30).text
        values = {"stream": 0.0, "database": 0.0, "followers": 0.0}
        for line in text.splitlines():
            handed = re.match(r'rwa_events_handed_out_total\{source="(\w+)"\} (\S+)', line)
            if handed:
                values[handed[1]] = float(handed[2])
            elif line.startswith("rwa_events_stream_followers "):
                values["followers"] = float(line.split()[1])
        return values

    def publish(self, payloads: Sequence[Mapping[str, Any]], *, xadd: bool = True) -> list[int]:
        """News events, committed; ``xadd=False``: by a publisher that dies right after its
        commit (its events never reach the stream)."""
        events = self.publisher if xadd else None
        return publish_now(self.ops_db_url, EventType.NEWS_ITEM, payloads, events=events)

    def wait_for(self, what: Callable[[dict[str, float]], bool]) -> dict[str, float]:
        deadline = time.monotonic() + 60
        while not what(metrics := self.metrics()):
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
        return metrics


@pytest.fixture(scope="module")
def ops_db_url(ops_workdir: Path) -> str:
    return f"sqlite:///{ops_workdir / 'ops.db'}"


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path, redis_url: str) -> Iterator[Server]:
    alice = provision(accounts_settings(ops_workdir, ops_db_url), Role.ENTERPRISE)
    serving = sample_duckdb(ops_workdir / "serving.duckdb")
    target = make_url(redis_url)
    proxy = CuttableProxy((target.host or "127.0.0.1", target.port or 6379))
    proxy.restore()
    publisher = EventsSettings(transport="redis", redis_url=redis_url, redis_stream=STREAM)
    variables = {
        "RWA_EVENTS_TRANSPORT": "redis",
        "RWA_EVENTS_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{target.database}",
        "RWA_EVENTS_REDIS_STREAM": STREAM,
        "RWA_EVENTS_FALLBACK_SECONDS": "3600",
        "RWA_EVENTS_POLL_SECONDS": "0.25",
        "RWA_METRICS_TOKEN": METRICS_TOKEN,
    }
    with (
        pytest.MonkeyPatch.context() as env,
        redis.Redis.from_url(redis_url, decode_responses=True) as client,
    ):
        for name, value in variables.items():
            env.setenv(name, value)
        with running_server(serving, ops_workdir, alice) as url:
            found = Server(url, ops_db_url, alice, proxy, publisher, client)
            found.wait_for(lambda m: m["followers"] == 1)
            yield found
    proxy.cut()


def _sse(server: Server) -> Any:
    params = {"types": "news_item", "max_seconds": "60"}
    return httpx.stream(
        "GET",
        f"{server.url}/events/stream",
        params=params,
        headers=server.alice.headers,
        timeout=RECEIVE_SECONDS,
    )


def test_committed_events_reach_websocket_and_sse_clients_through_the_stream(
    server: Server,
) -> None:
    before = server.metrics()
    with ws_client(server.url, headers=server.alice.headers, query=NEWS) as ws, _sse(server) as sse:
        assert next_event(ws)["type"] == "subscriptions"
        ids = server.publish([{"n": 1}, {"n": 2}, {"n": 3}])
        received = [next_event(ws)["payload"] for _ in ids]
        frames = sse_events(sse, len(ids))
    assert received == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [int(frame["id"]) for frame in frames] == ids
    after = server.metrics()
    assert after["stream"] - before["stream"] == len(ids)
    assert after["database"] == before["database"]
    assert [int(f["id"]) for _, f in server.redis.xrange(STREAM)][-3:] == ids


def _rolled_back(server: Server, payload: Mapping[str, Any]) -> None:
    """Publish, flush and roll back, with the stream hooked as a publisher has it."""
    database = OpsDatabase.open(OpsDbSettings(url=server.ops_db_url))
    relay = stream.attach(database.sessions, server.publisher)
    try:
        with database.sessions() as session:
            publish(session, EventType.NEWS_ITEM, T, payload)
            session.flush()
            session.rollback()
    finally:
        if relay is not None:
            relay.close()
        database.close()


def test_a_rolled_back_publish_reaches_neither_the_stream_nor_a_client(server: Server) -> None:
    length = server.redis.xlen(STREAM)
    with ws_client(server.url, headers=server.alice.headers, query=NEWS) as ws:
        assert next_event(ws)["type"] == "subscriptions"
        _rolled_back(server, {"rolled": "back"})
        server.publish([{"committed": True}])
        assert next_event(ws)["payload"] == {"committed": True}
    assert server.redis.xlen(STREAM) == length + 1


def test_an_event_whose_xadd_never_happened_is_found_by_the_gap_it_leaves(
    server: Server,
) -> None:
    before = server.metrics()
    with ws_client(server.url, headers=server.alice.headers, query=NEWS) as ws:
        assert next_event(ws)["type"] == "subscriptions"
        server.publish([{"lost": "xadd"}], xadd=False)
        server.publish([{"after": "it"}])
        received = [next_event(ws)["payload"] for _ in range(2)]
    # The stream's event first; the missing one read from the database by the cursor's gap.
    assert received == [{"after": "it"}, {"lost": "xadd"}]
    after = server.metrics()
    assert (after["stream"] - before["stream"], after["database"] - before["database"]) == (1, 1)


def test_with_redis_cut_off_the_worker_reads_the_database_then_follows_the_stream_again(
    server: Server,
) -> None:
    with ws_client(server.url, headers=server.alice.headers, query=NEWS) as ws:
        assert next_event(ws)["type"] == "subscriptions"
        server.proxy.cut()
        away = server.wait_for(lambda m: m["followers"] == 0)
        server.publish([{"redis": "away"}])  # on the stream, which the worker cannot reach
        assert next_event(ws)["payload"] == {"redis": "away"}
        assert server.metrics()["database"] == away["database"] + 1
        server.proxy.restore()
        back = server.wait_for(lambda m: m["followers"] == 1)
        server.publish([{"redis": "back"}])
        # Only this one: the stream's copy of the one above is not delivered twice.
        assert next_event(ws)["payload"] == {"redis": "back"}
        after = server.metrics()
    assert (after["stream"] - back["stream"], after["database"] - back["database"]) == (1, 0)


async def _deliveries(ops_db_url: str, settings: EventsSettings) -> list[dict[str, Any]]:
    """What a hub of its own, on ``settings``, hands a subscriber of two publishes, the second
    after the first arrived; checks that its stream reader still runs (retrying)."""
    database = OpsDatabase.open(OpsDbSettings(url=ops_db_url))
    hub = EventHub(database, settings)
    await hub.start()
    received: list[dict[str, Any]] = []
    try:
        subscriber = hub.subscribe(Principal(1, Role.EXPLORER), {EventType.NEWS_ITEM})
        for n in range(2):
            payloads = [{"no_redis": n}]
            await asyncio.to_thread(publish_now, ops_db_url, EventType.NEWS_ITEM, payloads)
            delivery = await asyncio.wait_for(subscriber.next(), RECEIVE_SECONDS)
            assert delivery is not None
            received.append(json.loads(delivery.json)["payload"])
        assert not hub.stream_up
        # Its stream reader still runs, retrying (a finished task leaves all_tasks()).
        assert [t.get_name() for t in asyncio.all_tasks()].count("rwa-stream") == 1
    finally:
        await hub.stop()
        database.close()
    return received


def test_a_worker_whose_redis_was_never_there_reads_the_database(server: Server) -> None:
    nowhere = EventsSettings(
        transport="redis",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        poll_seconds=0.1,
        fallback_seconds=3600,
    )
    received = asyncio.run(_deliveries(server.ops_db_url, nowhere))
    assert received == [{"no_redis": 0}, {"no_redis": 1}]
