"""Accounts: register, authenticate, change password, export, delete.

Nothing here tells a caller whether an email is registered: registering a taken email and
logging in with an unknown one cost the same Argon2 work as the real thing and return
nothing distinguishable to the route.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.accounts import audit, sessions
from api.accounts.audit import ClientInfo, Outcome
from api.accounts.passwords import burn_verification, hash_password, verify_and_update
from api.accounts.principal import Role
from api.accounts.tables import ApiKey, AuditEntry, RecoveryCode, RefreshToken, User, utcnow


def normalise_email(email: str) -> str:
    # Only ASCII blanks are trimmed (typing slips): str.strip() would also remove Unicode
    # spaces such as U+0085, turning "\x85@a.b" into another, invalid address.
    return email.strip(" \t\r\n").lower()


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create(session: Session, email: str, password: str, role: Role = Role.EXPLORER) -> User:
    """A new user (flushed, not committed); the caller checks the email is free."""
    user = User(email=normalise_email(email), password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def register(session: Session, email: str, password: str, client: ClientInfo) -> User | None:
    """Create an explorer account and commit; None when the email is taken (after the same
    hashing work, so the answer takes as long)."""
    if by_email(session, email) is not None:
        hash_password(password)
        audit.record(session, "account.register", Outcome.FAILURE, client, detail={"why": "taken"})
        session.commit()
        return None
    user = create(session, email, password)
    audit.record(session, "account.register", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str, client: ClientInfo) -> User | None:
    """The active user with this email and password, else None; audited and committed. A
    hash with outdated parameters is replaced."""
    user = by_email(session, email)
    if user is None:
        burn_verification(password)
        audit.record(session, "auth.login", Outcome.FAILURE, client, detail={"why": "unknown"})
        session.commit()
        return None
    ok, new_hash = verify_and_update(password, user.password_hash)
    if not ok or not user.is_active:
        why = "password" if not ok else "inactive"
        audit.record(
            session,
            "auth.login",
            Outcome.FAILURE,
            client,
            actor_user_id=user.id,
            detail={"why": why},
        )
        session.commit()
        return None
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def check_password(user: User, password: str) -> bool:
    """Re-authentication of a signed-in user (password change, account deletion)."""
    ok, _ = verify_and_update(password, user.password_hash)
    return ok


def change_password(session: Session, user: User, new_password: str, client: ClientInfo) -> None:
    """Store the new password and end every session; tokens issued before are refused. The
    caller has re-authenticated the user, and commits after starting the new session."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    sessions.revoke_all(session, user.id)
    audit.record(session, "account.password_change", Outcome.SUCCESS, client, actor_user_id=user.id)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export(session: Session, user: User) -> dict[str, Any]:
    """Everything the database holds about ``user``, secrets (hashes, TOTP seed) left out."""
    keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
    tokens = session.scalars(
        select(RefreshToken).where(RefreshToken.user_id == user.id).order_by(RefreshToken.issued_at)
    )
    codes_left = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    log = session.scalars(
        select(AuditEntry)
        .where((AuditEntry.actor_user_id == user.id) | (AuditEntry.subject_user_id == user.id))
        .order_by(AuditEntry.id)
    )
    return {
        "account": {
            "id": user.id,
            "email": user.email,
            "role": user.role,
            "is_active": user.is_active,
            "created_at": _iso(user.created_at),
            "password_changed_at": _iso(user.password_changed_at),
            "totp_enabled": user.totp_enabled,
            "recovery_codes_left": codes_left or 0,
        },
        "api_keys": [
            {
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes.split(),
                **{c: _iso(getattr(k, c)) for c in _KEY_TIMES},
            }
            for k in keys
        ],
        "sessions": [{c: _iso(getattr(t, c)) for c in _SESSION_COLUMNS} for t in tokens],
        "audit_log": [{c: _iso(getattr(e, c)) for c in _AUDIT_COLUMNS} for e in log],
    }


_KEY_TIMES = ("created_at", "last_used_at", "expires_at", "revoked_at")
_SESSION_COLUMNS = (
    "family_id",
    "issued_at",
    "expires_at",
    "used_at",
    "revoked_at",
    "client_address",
    "user_agent",
)
_AUDIT_COLUMNS = ("at", "action", "outcome", "client_address", "user_agent", "detail")


def delete(session: Session, user: User, key: bytes, client: ClientInfo) -> str:
    """Delete ``user`` and all it owns (keys, sessions, recovery codes: ON DELETE CASCADE);
    the audit entries stay, the user's id replaced by a pseudonym, which is returned."""
    user_id = user.id
    alias = audit.pseudonymise(session, user_id, key)
    session.delete(user)
    session.add(
        AuditEntry(
            action="account.delete",
            outcome=Outcome.SUCCESS.value,
            actor_pseudonym=alias,
            client_address=client.address,
            user_agent=client.user_agent,
        )
    )
    session.commit()
    return alias
