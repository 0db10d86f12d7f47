"""Notifications (issue 14): a durable outbox in the operational database and its delivery
through webhooks, e-mail and Telegram.

* :mod:`api.notifications.tables` — the ``notifications`` outbox (one row per firing, channel
  and destination: status, attempts, next attempt, last error) and each user's webhook secret;
* :mod:`api.notifications.outbox` — :func:`~api.notifications.outbox.enqueue`, called by
  evaluation in the firing's transaction, renders the messages;
* :mod:`api.notifications.claims` — claiming due rows (lease, ``SKIP LOCKED``) and recording
  outcomes; :mod:`api.notifications.attempts` — outcomes, ``Retry-After``, backoff;
* :mod:`api.notifications.delivery` — the dispatcher and one delivery pass; one module per
  channel: :mod:`.webhook` (with :mod:`.signing` and the SSRF :mod:`.guard`), :mod:`.mail`,
  :mod:`.telegram`;
* :mod:`api.notifications.log` — the delivery log users read (``GET /alerts/deliveries``).

The worker that repeats the passes is ``rwa alerts run`` (:mod:`api.alerts.worker`).
"""
