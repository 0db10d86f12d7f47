"""Webhook delivery: a signed JSON POST (Standard Webhooks headers, :mod:`.signing`) to the
rule's URL, through the SSRF guard (:mod:`.guard`). Redirects are not followed (the target
of a redirect was never checked)."""

from __future__ import annotations

import json

import httpx

from api.accounts.tables import utcnow
from api.notifications import guard, signing
from api.notifications.attempts import Outcome, http_outcome, parse_retry_after
from api.notifications.claims import Claim
from pipelines.core.settings import NotificationSettings


def body_of(claim: Claim) -> bytes:
    """The exact bytes sent (and signed): compact JSON of the rendered message."""
    return json.dumps(claim.message, separators=(",", ":"), ensure_ascii=False).encode()


def deliver(client: httpx.Client, claim: Claim, settings: NotificationSettings) -> Outcome:
    if claim.secret is None:  # pragma: no cover - claims of webhooks carry the secret
        return Outcome.fail("no signing secret")
    try:
        target = guard.resolve(claim.destination, settings.allow_private_webhooks)
    except guard.BlockedAddressError as error:
        return Outcome.fail(f"refused: {error}")
    except guard.ResolutionError as error:
        return Outcome.retry(str(error))
    body = body_of(claim)
    headers = signing.headers(claim.secret, claim.delivery_id, body) | {
        "content-type": "application/json",
        "host": target.host_header,
    }
    try:
        # Streamed and never read: a receiver's answer is its status and headers; a huge or
        # endless body must not fill the worker's memory.
        with client.stream(
            "POST",
            target.pinned_url,
            content=body,
            headers=headers,
            timeout=settings.request_timeout_seconds,
            extensions={"sni_hostname": target.host},
        ) as response:
            status, reason = response.status_code, response.reason_phrase
            retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
    except httpx.TimeoutException:
        return Outcome.retry("timed out")
    except httpx.HTTPError as error:
        return Outcome.retry(f"{type(error).__name__}: {error}")
    return http_outcome(status, retry_after, reason)
