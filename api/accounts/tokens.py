"""Signed tokens: JWT (HS256 only) access, refresh and 2FA-challenge tokens.

Each token carries ``sub`` (the user id), ``typ``, ``iat``, ``exp`` and a unique ``jti``; a
token is accepted only as the type it was issued for, so a refresh token is no access token.
Decoding allows no other algorithm (``alg=none`` included) and no clock leeway.

The signing key comes from ``RWA_JWT_SECRET``, which production requires; elsewhere it is
generated once and kept in ``RWA_JWT_KEY_FILE`` (mode 0600), so tokens outlive restarts and
every API worker signs with the same key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import AuthSettings

ALGORITHM = "HS256"
#: Shortest key accepted: HS256 wants at least the 32 bytes of its hash.
MIN_KEY_BYTES = 32
#: A 2FA challenge (password accepted, code pending) lives this long.
CHALLENGE_LIFETIME = dt.timedelta(minutes=5)


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"
    CHALLENGE = "2fa-challenge"


class InvalidTokenError(Exception):
    """A token that is malformed, forged, expired or of another type; the reason is for logs."""


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    typ: TokenType
    jti: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def signing_key(auth: AuthSettings, deployment: str) -> bytes:
    """The key tokens are signed with (see the module docstring)."""
    if auth.jwt_secret is not None:
        key = auth.jwt_secret.get_secret_value().encode()
        if len(key) < MIN_KEY_BYTES:
            raise ConfigurationError(f"RWA_JWT_SECRET must be at least {MIN_KEY_BYTES} bytes")
        return key
    if deployment == "production":
        raise ConfigurationError("RWA_JWT_SECRET is required when RWA_DEPLOYMENT=production")
    return _key_from_file(auth.jwt_key_file)


def _key_from_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole to a private file, then linked into place: of several workers starting
        # at once one key wins, and nobody ever reads a half-written file.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"signing key file {path} is empty or too short")
    return key


class TokenIssuer:
    """Encodes and decodes the tokens of one signing key."""

    def __init__(self, key: bytes, auth: AuthSettings) -> None:
        self._key = key
        self.lifetimes = {
            TokenType.ACCESS: dt.timedelta(minutes=auth.access_token_minutes),
            TokenType.REFRESH: dt.timedelta(days=auth.refresh_token_days),
            TokenType.CHALLENGE: CHALLENGE_LIFETIME,
        }

    def issue(self, user_id: int, typ: TokenType, jti: str | None = None) -> tuple[str, Claims]:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        claims = Claims(
            user_id=user_id,
            typ=typ,
            jti=jti or secrets.token_urlsafe(24),
            issued_at=now,
            expires_at=now + self.lifetimes[typ],
        )
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "typ": typ.value,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "jti": claims.jti,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def decode(self, token: str, typ: TokenType) -> Claims:
        """The claims of a valid token of type ``typ``; else InvalidTokenError."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "typ", "iat", "exp", "jti"]},
                leeway=0,
            )
            if payload["typ"] != typ.value:
                raise InvalidTokenError(f"a {payload['typ']!r} token is not a {typ.value!r} token")
            return Claims(
                user_id=int(payload["sub"]),
                typ=typ,
                jti=str(payload["jti"]),
                issued_at=dt.datetime.fromtimestamp(payload["iat"], dt.UTC),
                expires_at=dt.datetime.fromtimestamp(payload["exp"], dt.UTC),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidTokenError(str(exc)) from exc
