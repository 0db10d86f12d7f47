"""Alerts (issue 14): rules users own, and alerts written in plain language.

Design, one home per concept:

* :mod:`api.alerts.rules` — **the contract.** A rule is a target (one asset of the reference
  data, or a whole asset class), a condition (a closed :class:`~api.alerts.rules.ConditionKind`
  enum, one pydantic schema per kind with exactly its parameters: a discriminated union),
  channels (webhook URL, e-mail address, Telegram chat id: declarations only), a cooldown, an
  optional "holds for N minutes" and an active flag. :class:`~api.alerts.rules.RuleSpec` is
  what users write, :class:`~api.alerts.rules.Rule` what is stored and what evaluation,
  notifications and the real-time push read. Units are fixed there (percent, basis points,
  minutes / days).
* :mod:`api.alerts.tables` — the ``alert_rules`` table, on the accounts' declarative base in
  the operational database (migration ``0002_alert_rules`` beside the accounts' migrations).
* :mod:`api.alerts.service` — storing and reading rules, always by owner (another user's rule
  is not found), counting against the tier's limit (``api.security.tiers.MATRIX``:
  ``Tier.alert_rules``) under a lock; ``active_rules`` is what an evaluation reads.
* :mod:`api.alerts.vocabulary`, :mod:`api.alerts.grammar` (+ ``grammar.lark``),
  :mod:`api.alerts.parsing` — plain language: a Lark (Earley) grammar of sentence shapes, the
  asset and class words from the reference data, a transformer to the rule's fields, then the
  same :class:`~api.alerts.rules.RuleSpec` validation as the API; a sentence it cannot read
  raises :class:`~api.alerts.parsing.NotUnderstoodError` naming the part, what was expected
  there and an example that works.
* ``api/routes/alerts.py`` — ``POST/GET /alerts/rules``, ``GET/PATCH/DELETE
  /alerts/rules/{id}``, ``POST /alerts/parse``.

Not here (later parts of issue 14): evaluation on serving loads, firings, the notification
outbox and deliveries, WebSocket/SSE push. An OpenAI-compatible fallback for sentences the
grammar cannot read is left out: the grammar answers every sentence with a rule or a precise
422, and no hosted model is needed.
"""
