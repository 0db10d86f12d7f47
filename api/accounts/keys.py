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
from datetime import datetime, timedelta

from api.accounts.principal import Scope

#: Every key starts with this; the authentication dependency recognises a Bearer key by it.
KEY_PREFIX = "rwa_"
#: How often a key's last-used time is written at most: reads must not write every time.
LAST_USED_RESOLUTION = timedelta(minutes=1)
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
