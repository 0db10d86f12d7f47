"""The PostgreSQL wake-up of an API worker's fan-out: a connection of its own that ``LISTEN``s
on :data:`~api.events.bus.CHANNEL` and calls ``wake`` on each notification (PostgreSQL sends
them at the publishers' commits). A lost connection is opened again after a pause; meanwhile
the fan-out's fallback poll keeps events flowing, only later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql

from api.events.bus import CHANNEL

logger = logging.getLogger(__name__)

#: Pause before connecting again after the listening connection failed.
RECONNECT_SECONDS = 2.0


async def listen(conninfo: str, wake: Callable[[], None]) -> None:
    """Run until cancelled."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=10
            ) as connection:
                await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                # Whatever was published while (re)connecting is read now.
                wake()
                async for _ in connection.notifies():
                    wake()
        except (psycopg.Error, OSError):
            logger.warning("event listener connection lost; reconnecting", exc_info=True)
        await asyncio.sleep(RECONNECT_SECONDS)
