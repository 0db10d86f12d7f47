"""The API's event loop accepts the connections waiting in the listening queue in batches.

Counted in turns of the loop, not in seconds, so the test holds on a loaded machine: a
callback that reschedules itself runs once per turn. Stock uvloop (libuv >= 1.45) accepts one
connection per turn, so 64 clients need 64 turns or more; this loop takes
``ACCEPTS_PER_TURN`` at a time.
"""

from __future__ import annotations

import asyncio
import socket
from typing import cast

import pytest

from api.accept import ACCEPTS_PER_TURN, AcceptingLoop
from api.server import uvicorn_options
from pipelines.core.settings import ApiSettings

CLIENTS = 64


class _Recorder(asyncio.Protocol):
    """Notes the turn in which its connection was made and echoes one byte back."""

    def __init__(self, turns: list[int], made: list[int]) -> None:
        self.turns, self.made = turns, made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(self.turns[0])
        # uvloop's transports do not subclass asyncio's, though they implement them.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def _turns_to_accept(clients: int) -> tuple[list[int], bytes]:
    loop = asyncio.get_running_loop()
    turns: list[int] = [0]
    made: list[int] = []
    server = await loop.create_server(lambda: _Recorder(turns, made), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # The kernel completes each handshake without the server: all of them wait in the queue.
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(clients)]

    def tick() -> None:
        turns[0] += 1
        if len(made) < clients:
            loop.call_soon(tick)

    try:
        loop.call_soon(tick)
        async with asyncio.timeout(30):
            while len(made) < clients:
                await asyncio.sleep(0)
        sockets[-1].sendall(b"x")  # the last one accepted is served like any other
        echoed = await loop.run_in_executor(None, sockets[-1].recv, 1)
    finally:
        for client in sockets:
            client.close()
        server.close()
        await server.wait_closed()
    return made, echoed


def test_waiting_connections_are_accepted_in_a_few_turns() -> None:
    loop = AcceptingLoop()
    try:
        made, echoed = loop.run_until_complete(_turns_to_accept(CLIENTS))
    finally:
        loop.close()
    assert len(made) == CLIENTS
    # 4 turns of accepts, plus the turns uvloop takes to make a transport and call
    # connection_made; one connection per turn would need 64.
    assert max(made) <= CLIENTS // ACCEPTS_PER_TURN + 4, made
    assert echoed == b"x"


def test_a_closed_server_refuses_new_connections() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port: int = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        assert not server.is_serving()
        return port

    loop = AcceptingLoop()
    try:
        port = loop.run_until_complete(scenario())
    finally:
        loop.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_bound_socket_is_served_as_the_workers_get_it() -> None:
    """``rwa serve --workers N``: the parent binds the socket, each worker's loop listens."""

    async def scenario(bound: socket.socket) -> bytes:
        loop = asyncio.get_running_loop()
        turns: list[int] = [0]
        made: list[int] = []
        server = await loop.create_server(lambda: _Recorder(turns, made), sock=bound)
        try:
            with socket.create_connection(bound.getsockname(), timeout=10) as client:
                client.sendall(b"y")
                return await loop.run_in_executor(None, client.recv, 1)
        finally:
            server.close()
            await server.wait_closed()

    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))  # not listening, as uvicorn's Config.bind_socket leaves it
    loop = AcceptingLoop()
    try:
        assert loop.run_until_complete(scenario(bound)) == b"y"
    finally:
        loop.close()
        bound.close()


def test_the_server_runs_on_this_loop() -> None:
    assert uvicorn_options(ApiSettings())["loop"] == "api.accept:new_event_loop"
