"""The Redis wake-up of an API worker's fan-out (``RWA_EVENTS_TRANSPORT=redis``): a connection
of its own that blocks on the event stream (``XREAD BLOCK``) and hands each batch of entries,
as events, to the hub. Unlike ``LISTEN`` it works through PgBouncer's transaction pooling, and
the events come with the wake-up: no worker reads the database for them.

It starts after the stream's newest entry and then follows the entry ids it read, so a
reconnection after a blip reads what was added meanwhile (as long as the stream still holds
it). ``connected`` is told each time the stream is reached (the hub then reads the database
once: whatever was committed while it was not) and each time it is lost (the hub polls the
database until it is back). Redis restarting with an empty stream, a publisher that died
between its commit and its ``XADD``: the hub finds those events in the database by its cursor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.events.stream import event_of
from api.events.tables import Event
from pipelines.core.settings import EventsSettings

logger = logging.getLogger(__name__)

#: How long one XREAD blocks (a dead connection shows within this plus the socket timeout).
BLOCK_MS = 5000
#: Most entries one XREAD returns.
READ_COUNT = 1000
#: First and longest pause before connecting again after the stream failed.
RECONNECT_SECONDS = 1.0
MAX_RECONNECT_SECONDS = 15.0


async def follow(
    settings: EventsSettings,
    handle: Callable[[list[Event]], None],
    connected: Callable[[bool], None],
) -> None:
    """Run until cancelled."""
    if settings.redis_url is None:
        raise ValueError("the redis transport needs RWA_EVENTS_REDIS_URL")
    after: str | None = None  # the id of the last entry read; None: start at the newest
    failures = 0
    while True:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=BLOCK_MS / 1000 + 10,
        )
        try:
            if after is None:
                newest = await client.xrevrange(settings.redis_stream, count=1)
                after = newest[0][0] if newest else "0-0"
            else:
                await client.ping()
            if failures:
                logger.info("the Redis event stream is reachable again")
            failures = 0
            connected(True)
            while True:
                after = await _read(client, settings.redis_stream, after, handle)
        except Exception as exc:  # Redis down (or anything else): the database serves
            failures += 1
            connected(False)
            if failures == 1:  # once per outage, not once per attempt
                logger.warning(
                    "the Redis event stream is unreachable (%s: %s); reading events from the "
                    "database until it is back",
                    type(exc).__name__,
                    exc,
                    exc_info=not isinstance(exc, RedisError | OSError),
                )
        finally:
            await client.aclose()
        await asyncio.sleep(min(RECONNECT_SECONDS * 2 ** (failures - 1), MAX_RECONNECT_SECONDS))


async def _read(
    client: aioredis.Redis, stream: str, after: str, handle: Callable[[list[Event]], None]
) -> str:
    """One blocking read: hands its events over; the id to read after next."""
    reply = await client.xread({stream: after}, count=READ_COUNT, block=BLOCK_MS)
    events: list[Event] = []
    for _key, entries in reply or []:
        for entry_id, fields in entries:
            after = entry_id
            try:
                events.append(event_of(fields))
            except (KeyError, ValueError):  # not ours: another writer on the key
                logger.warning("skipped a malformed event stream entry %s", entry_id)
    if events:
        handle(events)
    return after
