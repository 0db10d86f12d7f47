"""The dispatcher: one pass of delivery, as ``rwa alerts run`` repeats it.

A pass claims the due notifications (:func:`.claims.claim_due`), sends each through its
channel on a small thread pool, and records each outcome as soon as its own send ends: a slow
or failing channel holds no other notification, not even one of the same firing.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from sqlalchemy.orm import Session, sessionmaker

from api.notifications import mail, telegram, webhook
from api.notifications.attempts import Outcome, Verdict
from api.notifications.claims import Claim, claim_due, record
from pipelines.core.settings import NotificationSettings

logger = logging.getLogger(__name__)

#: Sends in flight at once per worker.
SENDERS = 8


def _client(keep_alive: bool) -> httpx.Client:
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(
        follow_redirects=False, headers={"user-agent": "rwa-alerts/1"}, limits=limits
    )


@dataclass
class Dispatcher:
    """Sends a claimed notification through its channel; owns the HTTP connection pool."""

    settings: NotificationSettings
    #: Telegram's connections are kept alive between messages.
    client: httpx.Client = field(default_factory=lambda: _client(keep_alive=True))
    #: Webhooks are requested by checked address with their own Host and TLS name: a pooled
    #: connection (keyed by address) must not carry another host's request.
    webhook_client: httpx.Client = field(default_factory=lambda: _client(keep_alive=False))

    def send(self, claim: Claim) -> Outcome:
        try:
            match claim.channel:
                case "webhook":
                    return webhook.deliver(self.webhook_client, claim, self.settings)
                case "email":
                    return mail.deliver(claim, self.settings)
                case "telegram":
                    return telegram.deliver(self.client, claim, self.settings)
            return Outcome.fail(f"unknown channel {claim.channel!r}")
        except Exception as error:  # a bug in one channel must not stop the others
            logger.exception("notification %s: %s failed unexpectedly", claim.id, claim.channel)
            return Outcome.retry(f"internal error: {type(error).__name__}")

    def close(self) -> None:
        self.client.close()
        self.webhook_client.close()


@dataclass
class DeliveryStep:
    """One pass: claim, send, record; returns how many notifications it attempted."""

    sessions: sessionmaker[Session]
    settings: NotificationSettings
    dispatcher: Dispatcher
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(SENDERS, thread_name_prefix="notify")
    )

    @classmethod
    def open(cls, sessions: sessionmaker[Session], settings: NotificationSettings) -> DeliveryStep:
        return cls(sessions, settings, Dispatcher(settings))

    def _attempt(self, claim: Claim) -> Outcome:
        outcome = self.dispatcher.send(claim)
        if not record(self.sessions, claim, outcome, self.settings):
            logger.warning("notification %s: claim taken over, outcome not recorded", claim.id)
        level = logging.INFO if outcome.verdict == Verdict.SENT else logging.WARNING
        logger.log(
            level,
            "notification %s (%s, attempt %s): %s%s",
            claim.id,
            claim.channel,
            claim.attempts,
            outcome.verdict,
            f" ({outcome.error})" if outcome.error else "",
        )
        return outcome

    def __call__(self) -> int:
        claims = claim_due(self.sessions, self.settings)
        # list(): wait for every send of the batch before the next claim.
        list(self.pool.map(self._attempt, claims))
        return len(claims)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.dispatcher.close()
