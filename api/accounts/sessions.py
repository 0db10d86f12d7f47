"""Refresh-token sessions: each login starts a family; each refresh rotates its token.

Rotating marks the presented token used and issues its successor in the same family. A
refresh token is good once: presenting a used or revoked one means it was copied, so the
whole family is revoked (reuse detection) and both the thief and the owner must log in
again. Logout revokes the family.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.accounts import audit
from api.accounts.audit import ClientInfo, Outcome
from api.accounts.tables import RefreshToken, User, utcnow
from api.accounts.tokens import InvalidTokenError, TokenIssuer, TokenType


class RefreshRefusedError(Exception):
    """The refresh token cannot be used (invalid, expired, used, revoked, or its user gone)."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    #: Seconds the access token lives.
    expires_in: int
    refresh_expires_in: int


def _issue_pair(
    session: Session, issuer: TokenIssuer, user_id: int, family_id: str, client: ClientInfo
) -> tuple[TokenPair, str]:
    access, access_claims = issuer.issue(user_id, TokenType.ACCESS)
    refresh, refresh_claims = issuer.issue(user_id, TokenType.REFRESH)
    session.add(
        RefreshToken(
            jti=refresh_claims.jti,
            family_id=family_id,
            user_id=user_id,
            issued_at=refresh_claims.issued_at,
            expires_at=refresh_claims.expires_at,
            client_address=client.address,
            user_agent=client.user_agent,
        )
    )
    pair = TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int((access_claims.expires_at - access_claims.issued_at).total_seconds()),
        refresh_expires_in=int(
            (refresh_claims.expires_at - refresh_claims.issued_at).total_seconds()
        ),
    )
    return pair, refresh_claims.jti


def start(session: Session, issuer: TokenIssuer, user: User, client: ClientInfo) -> TokenPair:
    """A new session (family) for ``user``; the caller commits."""
    pair, _ = _issue_pair(session, issuer, user.id, secrets.token_urlsafe(18), client)
    return pair


def rotate(session: Session, issuer: TokenIssuer, token: str, client: ClientInfo) -> TokenPair:
    """Exchange a refresh token for a new pair, or raise RefreshRefusedError (having revoked
    the family when the token had been used before). Commits either way."""
    try:
        claims = issuer.decode(token, TokenType.REFRESH)
    except InvalidTokenError as exc:
        raise RefreshRefusedError(str(exc)) from exc
    row = session.get(RefreshToken, claims.jti)
    if row is None or row.user_id != claims.user_id:
        raise RefreshRefusedError("unknown refresh token")
    now = utcnow()
    # One conditional UPDATE decides which of two concurrent presentations wins, on SQLite
    # and PostgreSQL alike: the loser sees the token used and the family is revoked.
    claimed = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == claims.jti,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        revoke_family(session, row.family_id)
        audit.record(
            session,
            "session.refresh_reuse",
            Outcome.DENIED,
            client,
            actor_user_id=row.user_id,
            detail={"family": row.family_id},
        )
        session.commit()
        raise RefreshRefusedError("refresh token reused: its session is revoked")
    user = session.get(User, row.user_id)
    if (
        user is None
        or not user.is_active
        or not is_current(claims.issued_at, user.password_changed_at)
    ):
        session.rollback()
        raise RefreshRefusedError("the session's user is inactive or changed password")
    pair, new_jti = _issue_pair(session, issuer, row.user_id, row.family_id, client)
    row.replaced_by = new_jti
    session.commit()
    return pair


def _floor(moment: dt.datetime) -> dt.datetime:
    """Token times have whole seconds: compare at that precision."""
    return moment.replace(microsecond=0)


def is_current(issued_at: dt.datetime, password_changed_at: dt.datetime) -> bool:
    """Whether a token issued at ``issued_at`` survives the last password change."""
    return issued_at >= _floor(password_changed_at)


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: int) -> None:
    """End every session of a user (password change, deactivation)."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def family_of(session: Session, issuer: TokenIssuer, token: str) -> RefreshToken | None:
    """The row of a valid refresh token (used or not), for logout; None when invalid."""
    try:
        claims = issuer.decode(token, TokenType.REFRESH)
    except InvalidTokenError:
        return None
    row = session.get(RefreshToken, claims.jti)
    return row if row is not None and row.user_id == claims.user_id else None
