"""The fan-out of one API worker: a background task reads the durable channel after its
cursor and hands each event to the connected clients that may see it.

One :class:`EventHub` per worker process, started and stopped by the app's lifespan. Every
worker reads the same channel (the operational database), so an event published by any
process (a serving load, the alerts worker) reaches the clients of every worker. What wakes
a worker: with the redis transport the events themselves, read from the Redis stream
(:mod:`api.push.stream_reader`), with a slow fallback read of the database
(``fallback_seconds``) that also repairs the gaps the stream leaves (an id seen missing is
looked for after :data:`GAP_REPAIR_SECONDS`), and a poll every ``poll_seconds`` while Redis is
unreachable; otherwise on PostgreSQL a ``LISTEN`` on :data:`~api.events.bus.CHANNEL`
(notified at the publisher's commit) with the same fallback read; on SQLite a poll every
``poll_seconds``. Either way, the one :class:`~api.events.channel.Cursor` decides what is new.

Each client has a bounded queue (``client_queue`` events). Handing an event over never waits:
a client whose queue is full is dropped with a reason (its connection closes with it) instead
of holding the others back. Events are serialised once, whoever receives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from api.accounts.database import OpsDatabase
from api.accounts.principal import Principal
from api.events import channel
from api.events.bus import EventMessage, EventType
from api.events.tables import Event
from api.push.access import may_see
from api.push.listener import listen
from api.push.stream_reader import follow
from api.security.metrics import count_events_handed_out, set_stream_followed
from pipelines.core.settings import EventsSettings

logger = logging.getLogger(__name__)

#: How often a worker prunes events older than the retention period.
PRUNE_EVERY_SECONDS = 600.0
#: How long after the stream showed a missing id the database is read for it (the time an
#: earlier transaction's XADD may still take to arrive).
GAP_REPAIR_SECONDS = 1.0
#: How far a failing read's backoff grows (unless the usual wait is longer).
MAX_RETRY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event as the clients receive it: serialised once."""

    id: int
    type: EventType
    user_id: int | None
    #: The ``price_update``'s bar resolution (tier gates read it); None for other types.
    resolution: str | None
    #: ``{type, ts, payload}`` as JSON text.
    json: str

    @classmethod
    def of(cls, event: Event) -> Delivery:
        message = EventMessage.of(event)
        resolution = event.payload.get("resolution")
        return cls(
            id=event.id,
            type=message.type,
            user_id=event.user_id,
            resolution=resolution if isinstance(resolution, str) else None,
            json=message.model_dump_json(),
        )


@dataclass(eq=False)
class Subscriber:
    """One connected client: who it is, what it subscribed to, and its queue. A ``None`` in
    the queue means the hub dropped it (``dropped`` says why)."""

    principal: Principal
    types: set[EventType]
    queue: asyncio.Queue[Delivery | None]
    dropped: str | None = field(default=None)
    #: Set when the hub drops the client (its connection, maybe stuck sending, must close).
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, delivery: Delivery) -> bool:
        return delivery.type in self.types and may_see(self.principal, delivery)

    async def next(self) -> Delivery | None:
        """The next event, or None once the hub dropped this client."""
        return await self.queue.get()


class EventHub:
    """The worker's fan-out: subscribers, and the task that feeds them."""

    def __init__(self, database: OpsDatabase, settings: EventsSettings) -> None:
        self._database = database
        self.settings = settings
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.cursor = channel.Cursor(0)
        #: The greatest id handed to the subscribers (read on the event loop only).
        self.handed_out = 0
        #: With the redis transport: whether the stream is being followed now.
        self.stream_up = False
        self._repair: asyncio.TimerHandle | None = None
        self._catch_up = False

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def is_postgresql(self) -> bool:
        return self._database.engine.dialect.name == "postgresql"

    # --- clients -------------------------------------------------------------------------------

    def subscribe(self, principal: Principal, types: Iterable[EventType]) -> Subscriber:
        subscriber = Subscriber(principal, set(types), asyncio.Queue(self.settings.client_queue))
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def deliver(self, deliveries: Sequence[Delivery]) -> None:
        """Hand ``deliveries`` to every subscriber that wants them, never waiting."""
        for subscriber in list(self._subscribers):
            for delivery in deliveries:
                if not subscriber.wants(delivery):
                    continue
                try:
                    subscriber.queue.put_nowait(delivery)
                except asyncio.QueueFull:
                    self._drop(subscriber)
                    break

    def _drop(self, subscriber: Subscriber) -> None:
        waiting = subscriber.queue.qsize()
        subscriber.dropped = f"slow consumer: {waiting} events waiting"
        self._subscribers.discard(subscriber)
        # What it did not read is lost to it anyway; the room left carries the verdict.
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)
        subscriber.gone.set()
        logger.warning(
            "event client dropped",
            extra={"fields": {"user_id": subscriber.principal.user_id, "waiting": waiting}},
        )

    def backlog(
        self, principal: Principal, types: set[EventType], after: int, upto: int
    ) -> list[Delivery]:
        """What a client resuming after event ``after`` missed, up to ``upto`` (what this hub
        had handed out when it subscribed: newer events reach it through its queue).
        Blocking: call it from a thread."""
        with self._database.sessions() as session:
            events = channel.events_after(session, after, channel.READ_BATCH)
        deliveries = (Delivery.of(event) for event in events if event.id <= upto)
        return [d for d in deliveries if d.type in types and may_see(principal, d)]

    # --- the background task ------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading from the newest event now stored (clients see what comes after)."""
        position = await asyncio.to_thread(self._newest_id)
        self.cursor = channel.Cursor(position)
        self.handed_out = position
        self._tasks.append(asyncio.create_task(self._run(), name="rwa-events"))
        if self.settings.transport == "redis":
            reader = follow(self.settings, self._streamed, self._stream_state)
            self._tasks.append(asyncio.create_task(reader, name="rwa-stream"))
        elif self.is_postgresql:
            url = self._database.engine.url.set(drivername="postgresql")
            conninfo = url.render_as_string(hide_password=False)
            self._tasks.append(asyncio.create_task(listen(conninfo, self.wake), name="rwa-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._subscribers.clear()
        if self._repair is not None:
            self._repair.cancel()
        if self.stream_up:
            self.stream_up = False
            set_stream_followed(False)

    def wake(self) -> None:
        """Read the channel now (a notification came)."""
        self._wake.set()

    def _newest_id(self) -> int:
        with self._database.sessions() as session:
            return channel.newest_id(session)

    def _fetch(self, after: int) -> list[Delivery]:
        """The stored events after ``after`` (the cursor decides, on the loop, what is new)."""
        with self._database.sessions() as session:
            return [Delivery.of(event) for event in channel.events_after(session, after)]

    def _hand_out(self, deliveries: Sequence[Delivery], source: str) -> list[Delivery]:
        """Deliver what of ``deliveries`` (read from ``source``: stream or database) the cursor
        has not seen; on the event loop only."""
        fresh = self.cursor.take(deliveries)
        if fresh:
            self.deliver(fresh)
            self.handed_out = max(self.handed_out, max(d.id for d in fresh))
            count_events_handed_out(source, len(fresh))
        return fresh

    def _streamed(self, events: list[Event]) -> None:
        """Events the Redis stream brought; a missing id is looked for in the database soon."""
        try:
            deliveries = [Delivery.of(event) for event in sorted(events, key=lambda e: e.id)]
        except ValueError:  # an entry not of this schema: the database read will have it
            logger.warning("skipped undecodable events of the Redis stream", exc_info=True)
            return
        self._hand_out(deliveries, "stream")
        if self.cursor.seen and self._repair is None:
            loop = asyncio.get_running_loop()
            self._repair = loop.call_later(GAP_REPAIR_SECONDS, self._repair_gap)

    def _repair_gap(self) -> None:
        self._repair = None
        self.wake()

    def _stream_state(self, up: bool) -> None:
        """The stream was reached (read the database once, for what it may have missed) or
        lost (poll the database until it is back)."""
        self.stream_up = up
        # Counted as followed once a database read that began after it caught up.
        self._catch_up = up
        if not up:
            set_stream_followed(False)
        self.wake()

    def _wait_seconds(self) -> float:
        """How long the fan-out waits for a wake-up before reading the database anyway."""
        if self.settings.transport == "redis":
            return self.settings.fallback_seconds if self.stream_up else self.settings.poll_seconds
        if self.is_postgresql:
            return self.settings.fallback_seconds
        return self.settings.poll_seconds

    def _prune(self) -> int:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.settings.retention_hours)
        with self._database.sessions() as session:
            return channel.prune(session, cutoff)

    async def _run(self) -> None:
        next_prune = time.monotonic()
        failures = 0
        while True:
            self._wake.clear()
            more = False
            catch_up, self._catch_up = self._catch_up, False
            try:
                read = await asyncio.to_thread(self._fetch, self.cursor.position)
                more = bool(self._hand_out(read, "database")) and len(read) == channel.READ_BATCH
                if catch_up and self.stream_up:
                    set_stream_followed(True)
                    catch_up = False
                if time.monotonic() >= next_prune:
                    await asyncio.to_thread(self._prune)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                failures = 0
            except Exception:  # the channel is down for now: keep serving, read again later
                self._catch_up = self._catch_up or catch_up
                failures += 1
                if failures == 1 or failures % 100 == 0:  # not a line every poll
                    logger.exception("reading the event channel failed (%d times)", failures)
            if more:
                continue
            wait = self._wait_seconds()
            if failures:  # waits grow while the database is down (a wake-up still comes at once)
                wait = max(wait, min(wait * 2 ** min(failures, 10), MAX_RETRY_SECONDS))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
