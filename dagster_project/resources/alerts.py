"""Where run failures are reported."""

from __future__ import annotations

import logging

import dagster as dg
import httpx

log = logging.getLogger(__name__)


class AlertsResource(dg.ConfigurableResource["AlertsResource"]):
    """POSTs ``{"text": message}`` (Slack/Mattermost incoming-webhook shape) to ``webhook_url``;
    without one the message is only logged. A webhook that fails is logged, never raised: an
    alert must not fail the sensor that sends it."""

    webhook_url: str | None = None
    timeout_s: float = 10.0

    def notify(self, message: str) -> bool:
        """Send ``message``; True when a webhook accepted it."""
        log.error("%s", message)
        if not self.webhook_url:
            return False
        try:
            response = httpx.post(self.webhook_url, json={"text": message}, timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.error("alert webhook failed: %s", error)
            return False
        return True
