"""Notifications (issue 14): a durable outbox in the operational database and its delivery
through webhooks, e-mail and Telegram.

* :mod:`api.notifications.tables` — the ``notifications`` outbox: one row per (firing,
  channel, destination), its status, attempts, next attempt and last error (the delivery log
  users read).
"""
