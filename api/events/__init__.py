"""Real-time events (issue 14): what the pipeline and the workers publish and every API worker
pushes to its WebSocket and Server-Sent Events clients.

* :mod:`api.events.tables` — the ``events`` table: the durable channel of the embedded
  default (the operational database); its ids are the cursor each API worker reads from.
* :mod:`api.events.bus` — :class:`~api.events.bus.EventType`, the message schema
  ``{type, ts, payload}`` and :func:`~api.events.bus.publish` (in the caller's transaction;
  ``NOTIFY`` at commit on PostgreSQL).
* :mod:`api.events.prices` — ``price_update`` events for the assets whose latest bar a
  serving load changed (called by the after-load hook).
* :mod:`api.events.channel` — reading the channel after a cursor (gaps of PostgreSQL's
  sequences waited for) and pruning it.
* :mod:`api.events.stream` — the Redis transport's publishing half: a session hook that adds
  each committed event to a Redis stream (``RWA_EVENTS_TRANSPORT=redis``).

What the API workers do with the events (fan-out, ``/ws``, SSE) is :mod:`api.push`.
"""
