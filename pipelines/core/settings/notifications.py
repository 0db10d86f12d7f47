"""Settings of the notification delivery (``rwa alerts run``): the SMTP server, the Telegram
bot, and how deliveries are retried."""

from __future__ import annotations

from pydantic import Field, SecretStr

from pipelines.core.settings.base import Section


class NotificationSettings(Section):
    """Delivering alert notifications: SMTP, Telegram, retries and the webhook guard."""

    smtp_host: str | None = Field(
        validation_alias="RWA_SMTP_HOST",
        default=None,
        description="SMTP server that sends alert mails; unset = e-mail notifications fail "
        "with 'SMTP is not configured'.",
    )
    smtp_port: int = Field(
        validation_alias="RWA_SMTP_PORT", default=587, ge=1, le=65535, description="SMTP port."
    )
    smtp_from: str = Field(
        validation_alias="RWA_SMTP_FROM",
        default="alerts@localhost",
        description="From address of alert mails (its domain also names their Message-IDs).",
    )
    smtp_user: str | None = Field(
        validation_alias="RWA_SMTP_USER", default=None, description="SMTP login; unset = none."
    )
    smtp_password: SecretStr | None = Field(
        validation_alias="RWA_SMTP_PASSWORD", default=None, description="SMTP password."
    )
    smtp_starttls: bool = Field(
        validation_alias="RWA_SMTP_STARTTLS",
        default=True,
        description="Upgrade the SMTP connection with STARTTLS (required before a login).",
    )
    telegram_bot_token: SecretStr | None = Field(
        validation_alias="RWA_TELEGRAM_BOT_TOKEN",
        default=None,
        description="Telegram bot token; unset = Telegram notifications fail with "
        "'Telegram is not configured'.",
    )
    telegram_api_base: str = Field(
        validation_alias="RWA_TELEGRAM_API_BASE",
        default="https://api.telegram.org",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL of the Telegram Bot API (a local Bot API server or a test fake).",
    )
    max_attempts: int = Field(
        validation_alias="RWA_NOTIFY_MAX_ATTEMPTS",
        default=8,
        ge=1,
        le=50,
        description="Attempts of one notification before it is marked failed.",
    )
    backoff_base_seconds: float = Field(
        validation_alias="RWA_NOTIFY_BACKOFF_BASE_SECONDS",
        default=5.0,
        gt=0,
        description="Retry n waits a random time up to base * 2^(n-1) seconds (full jitter).",
    )
    backoff_cap_seconds: float = Field(
        validation_alias="RWA_NOTIFY_BACKOFF_CAP_SECONDS",
        default=3600.0,
        gt=0,
        description="Longest wait between two attempts (a longer Retry-After is capped too).",
    )
    claim_lease_seconds: float = Field(
        validation_alias="RWA_NOTIFY_CLAIM_LEASE_SECONDS",
        default=120.0,
        gt=0,
        description="How long a worker's claim on a notification lasts: a crashed worker's "
        "claims are taken over after it (longer than a send's timeout).",
    )
    request_timeout_seconds: float = Field(
        validation_alias="RWA_NOTIFY_TIMEOUT_SECONDS",
        default=10.0,
        gt=0,
        description="Timeout of one webhook, Telegram or SMTP exchange.",
    )
    batch_size: int = Field(
        validation_alias="RWA_NOTIFY_BATCH_SIZE",
        default=50,
        ge=1,
        le=1000,
        description="Notifications one worker claims at a time.",
    )
    allow_private_webhooks: bool = Field(
        validation_alias="RWA_NOTIFY_ALLOW_PRIVATE_WEBHOOKS",
        default=False,
        description="Deliver webhooks to loopback, private and link-local addresses (off: "
        "such URLs fail, so a rule cannot reach the internal network).",
    )
    poll_seconds: float = Field(
        validation_alias="RWA_ALERTS_POLL_SECONDS",
        default=1.0,
        gt=0,
        description="Pause of `rwa alerts run` between two passes when there was nothing to do.",
    )
    evaluate_seconds: float = Field(
        validation_alias="RWA_ALERTS_EVALUATE_SECONDS",
        default=30.0,
        gt=0,
        description="How often `rwa alerts run` evaluates the alert rules without new data "
        "(so holds and cooldowns end between loads); new served data is evaluated at once.",
    )
