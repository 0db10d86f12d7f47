"""Telegram delivery: ``POST {base}/bot{token}/sendMessage`` of the Bot API, plain text.

The token is part of the URL, so nothing that may contain the URL is logged: errors are
scrubbed of it. A 429 carries ``parameters.retry_after`` (seconds), honoured like a
``Retry-After`` header. Telegram has no idempotency key: a crash between its answer and the
record sends the message again on the next attempt (see docs/security.md).
"""

from __future__ import annotations

from typing import Any

import httpx

from api.accounts.tables import utcnow
from api.notifications.attempts import Outcome, http_outcome, parse_retry_after
from api.notifications.claims import Claim
from pipelines.core.settings import NotificationSettings


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _retry_after(response: httpx.Response, answer: dict[str, Any]) -> float | None:
    parameters = answer.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        return float(parameters["retry_after"])
    return parse_retry_after(response.headers.get("retry-after"), utcnow())


def deliver(client: httpx.Client, claim: Claim, settings: NotificationSettings) -> Outcome:
    if settings.telegram_bot_token is None:
        return Outcome.fail("Telegram is not configured (RWA_TELEGRAM_BOT_TOKEN)")
    token = settings.telegram_bot_token.get_secret_value()
    url = f"{settings.telegram_api_base.rstrip('/')}/bot{token}/sendMessage"
    text = f"{claim.message['subject']}\n\n{claim.message['text']}"
    payload = {"chat_id": claim.destination, "text": text, "disable_web_page_preview": True}
    try:
        response = client.post(url, json=payload, timeout=settings.request_timeout_seconds)
    except httpx.TimeoutException:
        return Outcome.retry("timed out")
    except httpx.HTTPError as error:
        return Outcome.retry(f"{type(error).__name__}: {error}".replace(token, "<token>"))
    answer = _answer(response)
    description = str(answer.get("description", "")).replace(token, "<token>")
    return http_outcome(response.status_code, _retry_after(response, answer), description)
