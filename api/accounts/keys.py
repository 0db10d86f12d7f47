"""API keys for machine clients: created (the raw key shown once), listed, used, revoked.

A key reads ``rwa_<prefix>_<secret>``: the prefix (8 hex characters) is public, stored as is
and shown in listings so a user can tell keys apart; the secret is 256 random bits. Only the
SHA-256 of the whole key is stored: with that much entropy a fast hash is right (a slow
password hash such as Argon2 would cost ~50 ms on every request and protect nothing more). A
presented key is found by its prefix and its hash compared in constant time.

The pure functions (generation, parsing, hashing, scopes) come first; the functions taking a
session read and write the ``api_keys`` table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from api.accounts import audit
from api.accounts.audit import ClientInfo, Outcome
from api.accounts.principal import Holder, Principal, Role, Scope
from api.accounts.tables import ApiKey, User

#: Every key starts with this; the authentication dependency recognises a Bearer key by it.
KEY_PREFIX = "rwa_"
#: Execution option of a statement that changes no one's rights (the last-used time), so
#: the cache of who holds which credential (api.accounts.credentials) is kept.
IDENTITY_UNCHANGED = "rwa_identity_unchanged"
#: How often a key's last-used time is written at most: reads must not write every time.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Keys in force (neither revoked nor expired) one user may hold: a bound on what a stolen
#: session could mint, far above what a real client needs.
MAX_ACTIVE_KEYS = 25
_PREFIX_BYTES = 4
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A fresh key: the raw value (shown once), its public prefix and its stored hash."""

    raw: str
    prefix: str
    key_hash: str


def generate_key() -> GeneratedKey:
    prefix = secrets.token_hex(_PREFIX_BYTES)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return GeneratedKey(raw=raw, prefix=prefix, key_hash=hash_key(raw))


def hash_key(raw: str) -> str:
    """SHA-256 (hex) of the raw key: what the table stores."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def is_api_key(credential: str) -> bool:
    """Whether a Bearer credential is an API key rather than a token (by its prefix)."""
    return credential.startswith(KEY_PREFIX)


def prefix_of(raw: str) -> str | None:
    """The public prefix of a well-formed key, or None: a malformed key is never looked up."""
    if not is_api_key(raw):
        return None
    prefix, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 2 * _PREFIX_BYTES or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def hash_matches(raw: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_key(raw), stored_hash)


def encode_scopes(scopes: Iterable[Scope]) -> str:
    """Scopes as stored: space-separated (OAuth's convention), in a stable order."""
    return " ".join(sorted({Scope(s).value for s in scopes}))


def decode_scopes(text: str) -> frozenset[Scope]:
    """The stored scopes; an unknown word (a scope since removed) grants nothing."""
    known = {scope.value for scope in Scope}
    return frozenset(Scope(word) for word in text.split() if word in known)


def last_used_is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at ``now`` should be written (the stored time is a minute old or more)."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


# --- the api_keys table --------------------------------------------------------------------


class TooManyKeysError(Exception):
    def __init__(self) -> None:
        super().__init__(f"at most {MAX_ACTIVE_KEYS} active keys: revoke one first")


def _active(now: datetime) -> Any:
    return ApiKey.revoked_at.is_(None) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


@dataclass(frozen=True, slots=True)
class Change:
    """Who makes a change to a user's keys, for the audit log: the user themselves (a
    route) or an operator (``rwa keys create``, ``rwa demo``: ``actor_user_id`` None)."""

    client: ClientInfo
    actor_user_id: int | None

    def record(self, session: Session, action: str, user_id: int, row: ApiKey) -> None:
        detail = {"key_id": row.id, "prefix": row.prefix, "scopes": row.scopes}
        subject = None if self.actor_user_id == user_id else user_id
        audit.record(
            session,
            action,
            Outcome.SUCCESS,
            self.client,
            actor_user_id=self.actor_user_id,
            subject_user_id=subject,
            detail=detail,
        )


def create(
    session: Session,
    user_id: int,
    name: str,
    scopes: Iterable[Scope],
    change: Change,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key of ``user_id`` (flushed and audited; the caller commits) and its raw value,
    which is never stored and cannot be shown again."""
    now = datetime.now(UTC)
    held = session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id, _active(now))
    )
    if (held or 0) >= MAX_ACTIVE_KEYS:
        raise TooManyKeysError
    key = generate_key()
    row = ApiKey(
        user_id=user_id,
        name=name,
        prefix=key.prefix,
        key_hash=key.key_hash,
        scopes=encode_scopes(scopes),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    change.record(session, "apikey.create", user_id, row)
    return row, key.raw


def list_keys(session: Session, user_id: int) -> list[ApiKey]:
    """All keys of ``user_id``, revoked and expired ones included (they say so), oldest first."""
    return list(
        session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id))
    )


def revoke(session: Session, user_id: int, key_id: int, change: Change) -> ApiKey | None:
    """Revoke a key of ``user_id`` (flushed and audited); None when they hold no such key.
    Revoking a revoked key changes (and records) nothing."""
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
        change.record(session, "apikey.revoke", user_id, row)
    return row


#: The one read of every key-authenticated request: Core columns and a bound parameter, so
#: the statement is compiled once and no ORM objects are built (the ORM form cost ~4x more).
_KEY_HOLDER = (
    select(
        ApiKey.id,
        ApiKey.key_hash,
        ApiKey.scopes,
        ApiKey.last_used_at,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        User.id.label("user_id"),
        User.role,
        User.is_active,
    )
    .join_from(ApiKey, User, User.id == ApiKey.user_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


def holder_of_key(session: Session, raw: str, now: datetime | None = None) -> Holder | None:
    """Who presents ``raw``: None for a malformed, unknown, revoked or expired key, or a key of
    an inactive user. Records the use (at most once a minute per key, committed at once so a
    read-only request still keeps it)."""
    prefix = prefix_of(raw)
    if prefix is None:
        return None
    now = now or datetime.now(UTC)
    row = session.connection().execute(_KEY_HOLDER, {"prefix": prefix}).first()
    if row is None or not hash_matches(raw, row.key_hash):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if not row.is_active:
        return None
    if last_used_is_stale(row.last_used_at, now):
        _record_use(session, row.id, now)
    principal = Principal(
        user_id=row.user_id,
        role=Role(row.role),
        scopes=decode_scopes(row.scopes),
        api_key_id=row.id,
    )
    return Holder(principal, None if row.expires_at is None else row.expires_at.timestamp())


def _record_use(session: Session, key_id: int, now: datetime) -> None:
    # Conditional, so concurrent requests on several workers write once a minute, not each.
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION)
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, stale)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False, **{IDENTITY_UNCHANGED: True})
    )
    session.commit()
