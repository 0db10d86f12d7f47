"""Real-time push (issue 14): what every API worker does with the events of
:mod:`api.events` — read them from the durable channel and push them to its connected
WebSocket and Server-Sent Events clients.

* :mod:`api.push.hub` — the worker's fan-out: one background task, bounded per-client queues.
* :mod:`api.push.listener` — the PostgreSQL ``LISTEN`` that wakes it at each publisher's commit.
* :mod:`api.push.stream_reader` — with the redis transport, the ``XREAD BLOCK`` on the Redis
  stream that brings it the events instead.
* :mod:`api.push.access` — who may see which event (owners, tiers).
* :mod:`api.push.clients` — credentials of a connection, event types, control messages.
* :mod:`api.push.websocket` — the ``/ws`` session; :mod:`api.push.sse` — ``/events/stream``.

A layer above :mod:`api.deps` (it authenticates like the routes and reads the tier matrix),
below the routes that mount it (:mod:`api.routes.events`).
"""
