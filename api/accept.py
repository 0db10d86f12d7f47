"""The event loop the API serves on: uvloop, accepting the connections that wait in turns.

Since libuv pull request 3696 (2022, "unix: don't accept() connections in a loop"; uvloop
0.23 bundles libuv 1.52), libuv, under uvloop, accepts **one** connection each time the event
loop polls. One turn of a busy server's loop also serves a request on every connection it
already holds, so when many clients connect at once the last of them waits for as many turns
as there are clients before it, each turn longer than the one before: with 64 clients and
about 1 ms per request, the 64th first request waited some 2 s in the listening socket's
queue, wrk's timeout, while the connections already accepted were answered in tens of
milliseconds (docs/benchmarks.md, "API latency", session 10: sampled with ``ss``, the accept
queue still held connections 10 s into a loaded run). Python's own asyncio loop accepts up to
the backlog at once.

:class:`AcceptingLoop` is uvloop with the accept of asyncio, bounded: each time the listening
socket is readable it accepts up to :data:`ACCEPTS_PER_TURN` connections and hands each to
uvloop's transport (``connect_accepted_socket``), which then serves it exactly as before. The
bound keeps several workers sharing one listening socket (``rwa serve --workers N``) from
taking every waiting connection into whichever worker woke first. Anything else (TLS, Unix
sockets, unusual options) is served by uvloop's own server.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import uvloop

log = logging.getLogger(__name__)

#: Connections accepted per turn of the loop, per listening socket. libuv accepts 1, asyncio
#: up to the backlog; 64 clients connecting together are all accepted within 4 turns.
ACCEPTS_PER_TURN = 16
#: How long to stop accepting when ``accept`` fails, e.g. out of descriptors or memory
#: (asyncio's value): the waiting connections stay queued in the kernel meanwhile.
ACCEPT_RETRY_SECONDS = 1.0
#: The families this server listens on itself (Unix sockets go to uvloop's server).
_INET = frozenset({socket.AF_INET, socket.AF_INET6})

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class AcceptingServer(asyncio.AbstractServer):
    """Listening sockets served by :class:`AcceptingLoop` (what ``create_server`` returns)."""

    def __init__(
        self,
        loop: AcceptingLoop,
        sockets: Iterable[socket.socket],
        protocol_factory: ProtocolFactory,
    ) -> None:
        self._loop = loop
        self._sockets = list(sockets)
        self._protocol_factory = protocol_factory
        self._serving = False
        #: Connections handed to uvloop whose transport is being made.
        self._handshakes: set[asyncio.Task[Any]] = set()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self.listen()

    def listen(self) -> None:
        if self._serving:
            return
        self._serving = True
        for listener in self._sockets:
            listener.setblocking(False)
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    def close(self) -> None:
        """Stop accepting and close the listening sockets; accepted connections go on."""
        if self._serving:
            for listener in self._sockets:
                self._loop.remove_reader(listener.fileno())
        self._serving = False
        for listener in self._sockets:
            listener.close()
        self._sockets = []

    async def wait_closed(self) -> None:
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)

    async def serve_forever(self) -> None:
        self.listen()
        await self._loop.create_future()  # until cancelled, as asyncio's servers do

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                connection, _address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return  # none waiting
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                # Out of descriptors or memory (or any other failure): retry later rather
                # than spin on a socket that stays readable.
                log.error(
                    "cannot accept connections (%s); retrying in %g s", exc, ACCEPT_RETRY_SECONDS
                )
                self._pause(listener)
                return
            connection.setblocking(False)
            handshake = self._loop.create_task(
                self._loop.connect_accepted_socket(self._protocol_factory, connection)
            )
            self._handshakes.add(handshake)
            handshake.add_done_callback(self._handed_over)

    def _pause(self, listener: socket.socket) -> None:
        self._loop.remove_reader(listener.fileno())

        def resume() -> None:
            if self._serving and listener in self._sockets:
                self._loop.add_reader(listener.fileno(), self._accept, listener)

        self._loop.call_later(ACCEPT_RETRY_SECONDS, resume)

    def _handed_over(self, handshake: asyncio.Task[Any]) -> None:
        self._handshakes.discard(handshake)
        if not handshake.cancelled() and (error := handshake.exception()) is not None:
            # A client that reset its connection before the transport was made: nothing to
            # answer, and nothing the server did wrong.
            log.debug("accepted connection dropped before serving: %r", error)


class AcceptingLoop(uvloop.Loop):
    """uvloop whose TCP servers accept up to :data:`ACCEPTS_PER_TURN` connections a turn."""

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: ProtocolFactory,
        host: str | None = None,
        port: int | None = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        **options: Any,
    ) -> asyncio.AbstractServer:
        if ssl is not None or options or (sock is not None and sock.family not in _INET):
            # uvloop's stubs overload host/port and sock apart; passed on as uvicorn gave them.
            uvloop_server: Any = super().create_server
            server: asyncio.AbstractServer = await uvloop_server(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **options
            )
            return server
        if sock is None:
            sockets = await self._listening_sockets(host, port, backlog)
        else:
            # uvicorn's workers get the socket their parent bound, not yet listening.
            sock.listen(backlog)
            sockets = [sock]
        accepting = AcceptingServer(self, sockets, protocol_factory)
        accepting.listen()
        return accepting

    async def _listening_sockets(
        self, host: str | None, port: int | None, backlog: int
    ) -> list[socket.socket]:
        """One listening socket per address ``host`` resolves to (as asyncio binds them)."""
        infos = await self.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        addresses = dict.fromkeys((family, address) for family, *_, address in infos)
        sockets: list[socket.socket] = []
        try:
            for family, address in addresses:
                if family in _INET:
                    sockets.append(socket.create_server(address, family=family, backlog=backlog))
        except OSError:
            for made in sockets:
                made.close()
            raise
        if not sockets:
            raise OSError(f"no IPv4 or IPv6 address to listen on for {host!r}")
        return sockets


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop factory uvicorn is given (``loop="api.accept:new_event_loop"``)."""
    return AcceptingLoop()
