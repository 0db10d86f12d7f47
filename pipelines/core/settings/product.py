"""Settings sections of the product around the data: the API server, accounts and their
tokens, and the operational database that holds what users write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from pipelines.core.settings.base import Section, comma_separated

#: A browser origin: scheme, host and optional port, nothing else.
ORIGIN_PATTERN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
#: A rate in the `limits` notation: "5/minute", "20 per hour".
RATE_PATTERN = r"^\d+ ?(/|per) ?(\d+ )?(second|minute|hour|day)s?$"


class ApiSettings(Section):
    """The API server: where it binds, how many workers, and what it lets in."""

    host: str = Field(
        validation_alias="RWA_API_HOST", default="127.0.0.1", description="Host `rwa serve` binds."
    )
    port: int = Field(
        validation_alias="RWA_API_PORT",
        default=8000,
        ge=1,
        le=65535,
        description="Port `rwa serve` binds.",
    )
    workers: int = Field(
        validation_alias="RWA_API_WORKERS",
        default=1,
        ge=1,
        le=64,
        description="Worker processes of `rwa serve` (rate limits hold across them only with "
        "Redis storage).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        validation_alias="RWA_API_CORS_ORIGINS",
        default_factory=list,
        description="Comma-separated browser origins allowed to call the API (CORS); unset = none.",
    )
    max_body_bytes: int = Field(
        validation_alias="RWA_API_MAX_BODY_BYTES",
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted; larger ones get 413.",
    )
    rate_limit_storage: str = Field(
        validation_alias="RWA_RATE_LIMIT_STORAGE",
        default="memory://",
        description="Where rate-limit counters live: memory:// (one process) or "
        "redis://host:port/db (shared by every worker; production).",
    )
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = Field(
        validation_alias="RWA_RATE_LIMIT_STRATEGY",
        default="moving-window",
        description="How per-user limits count: moving-window (exact: N in any 60 s), "
        "fixed-window (cheapest; up to 2N across a window edge) or sliding-window-counter.",
    )
    throttle_per_account: str = Field(
        validation_alias="RWA_THROTTLE_PER_ACCOUNT",
        default="5/minute",
        pattern=RATE_PATTERN,
        description="Failed logins or 2FA codes, or registrations, allowed per account "
        "(e.g. 5/minute); then 429.",
    )
    throttle_per_client: str = Field(
        validation_alias="RWA_THROTTLE_PER_CLIENT",
        default="20/minute",
        pattern=RATE_PATTERN,
        description="The same attempts allowed per client address, across accounts.",
    )
    metrics_token: SecretStr | None = Field(
        validation_alias="RWA_METRICS_TOKEN",
        default=None,
        description="Bearer token a Prometheus scraper presents to read /metrics "
        "(admins can always read it); unset = admins only.",
    )

    access_log: bool = Field(
        validation_alias="RWA_API_ACCESS_LOG",
        default=True,
        description="Write one JSON access-log line per request (method, path, status, "
        "duration, request id, user id; never query strings, headers or bodies).",
    )

    _split_origins = field_validator("cors_origins", mode="before")(comma_separated)

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        # Token cookies make requests credentialed: a wildcard would hand them to any site.
        for origin in origins:
            if not ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like https://app.example.com (no wildcard, "
                    "no path)"
                )
        return origins


class AuthSettings(Section):
    """Accounts: how tokens are signed and how long they live."""

    jwt_secret: SecretStr | None = Field(
        validation_alias="RWA_JWT_SECRET",
        default=None,
        description="Key that signs access and refresh tokens (HS256, 32+ bytes); required "
        "when RWA_DEPLOYMENT=production, otherwise generated once into RWA_JWT_KEY_FILE.",
    )
    jwt_key_file: Path = Field(
        validation_alias="RWA_JWT_KEY_FILE",
        default=Path("data/jwt.key"),
        description="Where the embedded default keeps its generated signing key.",
    )
    access_token_minutes: int = Field(
        validation_alias="RWA_ACCESS_TOKEN_MINUTES",
        default=15,
        ge=1,
        description="Lifetime of an access token.",
    )
    refresh_token_days: int = Field(
        validation_alias="RWA_REFRESH_TOKEN_DAYS",
        default=7,
        ge=1,
        description="Lifetime of a refresh token (each use rotates it).",
    )
    totp_issuer: str = Field(
        validation_alias="RWA_TOTP_ISSUER",
        default="RWA Lakehouse",
        description="Issuer shown by authenticator apps for TOTP 2FA.",
    )
    cache_seconds: float = Field(
        validation_alias="RWA_AUTH_CACHE_SECONDS",
        default=5.0,
        ge=0,
        description="How long a worker keeps who a valid credential belongs to (0: look it up "
        "on every request). Changes made through the same worker apply at once; a key revoked "
        "or a user changed through another worker or the rwa command, within this time.",
    )
    secure_cookies: bool = Field(
        validation_alias="RWA_AUTH_SECURE_COOKIES",
        default=False,
        description="Mark token cookies Secure (HTTPS only); set in production.",
    )


class OpsDbSettings(Section):
    """The operational database: users, keys, sessions, audit log, alerts, portfolios."""

    url: str = Field(
        validation_alias="RWA_OPS_DB_URL",
        default="sqlite:///data/ops.db",
        description="SQLAlchemy URL of the operational database: SQLite (embedded, WAL) or "
        "postgresql+psycopg://… (production).",
    )


class EventsSettings(Section):
    """Real-time push: the durable event channel every API worker reads, and its clients."""

    poll_seconds: float = Field(
        validation_alias="RWA_EVENTS_POLL_SECONDS",
        default=0.25,
        gt=0,
        le=60,
        description="How often an API worker reads new events from the operational database "
        "when nothing wakes it: on SQLite, and while Redis is unreachable with the redis "
        "transport.",
    )
    fallback_seconds: float = Field(
        validation_alias="RWA_EVENTS_FALLBACK_SECONDS",
        default=5.0,
        gt=0,
        le=3600,
        description="How often a worker woken by PostgreSQL's LISTEN/NOTIFY or by the Redis "
        "stream still reads the operational database, for what the wake-up missed.",
    )
    transport: Literal["database", "redis"] = Field(
        validation_alias="RWA_EVENTS_TRANSPORT",
        default="database",
        description="How events reach the API workers: database (they read the operational "
        "database, the embedded default) or redis (publishers also add each committed event "
        "to a Redis stream the workers block on; the database stays the record).",
    )
    redis_url: str | None = Field(
        validation_alias="RWA_EVENTS_REDIS_URL",
        default=None,
        description="redis://host:port/db of the event stream; required by the redis transport.",
    )
    redis_stream: str = Field(
        validation_alias="RWA_EVENTS_REDIS_STREAM",
        default="rwa:events",
        min_length=1,
        description="Key of the Redis stream of events (one per operational database).",
    )
    redis_maxlen: int = Field(
        validation_alias="RWA_EVENTS_REDIS_MAXLEN",
        default=100_000,
        ge=100,
        description="About how many events the Redis stream keeps (XADD MAXLEN ~); the "
        "database keeps them for the retention period.",
    )
    retention_hours: float = Field(
        validation_alias="RWA_EVENTS_RETENTION_HOURS",
        default=48,
        gt=0,
        description="Events older than this are pruned (SSE clients resume within it).",
    )
    client_queue: int = Field(
        validation_alias="RWA_EVENTS_CLIENT_QUEUE",
        default=1000,
        ge=1,
        le=100_000,
        description="Events waiting for one client at most; a client that falls further "
        "behind is dropped (WebSocket close 4008 `slow consumer`; the SSE stream ends).",
    )
    heartbeat_seconds: float = Field(
        validation_alias="RWA_EVENTS_HEARTBEAT_SECONDS",
        default=15,
        gt=0,
        le=300,
        description="Seconds between heartbeat messages to an idle WebSocket or SSE client.",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @model_validator(mode="after")
    def _redis_needs_url(self) -> EventsSettings:
        if self.transport == "redis" and not self.redis_url:
            raise ValueError("RWA_EVENTS_TRANSPORT=redis needs RWA_EVENTS_REDIS_URL")
        return self
