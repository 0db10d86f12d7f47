"""Real-time events (issue 14): what the pipeline and the workers publish and every API worker
pushes to its WebSocket and Server-Sent Events clients.

* :mod:`api.events.tables` — the ``events`` table: the durable channel of the embedded
  default (the operational database); its ids are the cursor each API worker reads from.
"""
