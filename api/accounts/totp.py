"""TOTP two-factor authentication: enrolment, confirmation, login codes and recovery codes.

A user enrols (a fresh secret, its ``otpauth://`` URI and a QR code as SVG), confirms with the
first code their authenticator shows (2FA turns on and ten one-time recovery codes are shown
once), then answers a code at every login. A code is accepted within one 30-second step either
side of the server's clock, and never twice: the last accepted time-step is stored and a code of
that step or an earlier one is refused, so an observed code cannot be replayed. Recovery codes
carry 80 random bits, so a SHA-256 hash is enough to store them (no slow hash is needed, as for
passwords) and lets a code be found by its hash.

The pure functions (secrets, URIs, codes, hashes) come first; the functions taking a session
read and write the ``users`` and ``recovery_codes`` tables.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pyotp
import segno
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api.accounts.tables import RecoveryCode, User

#: Codes are accepted this many 30-second steps either side of the server's clock.
VALID_WINDOW = 1
#: Recovery codes issued at confirmation (and at each regeneration).
RECOVERY_CODE_COUNT = 10
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
#: Random bytes in a recovery code: 80 bits, shown as four groups of four base32 characters.
_RECOVERY_CODE_BYTES = 10


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What an authenticator app needs: the secret, its URI and the URI as a QR code (SVG)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def enrolment_for(secret: str, account_name: str, issuer: str) -> Enrolment:
    """The URI and QR code that load ``secret`` into an authenticator app."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=f"{issuer}: {account_name}")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=svg)


def accepted_step(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    """The time-step ``code`` belongs to when it is valid at ``now`` (within
    :data:`VALID_WINDOW` steps) and newer than ``last_step``; otherwise None.

    Every candidate step is compared in constant time, so the answer's timing says nothing
    about which step (if any) matched.
    """
    candidate = code.strip().replace(" ", "")
    if not (candidate.isascii() and candidate.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    accepted: int | None = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        matches = hmac.compare_digest(totp.generate_otp(step), candidate)
        if matches and (last_step is None or step > last_step):
            accepted = step
    return accepted


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` fresh recovery codes, e.g. ``ABCD-EFGH-IJKL-MNOP``."""
    return [_format_recovery_code(secrets.token_bytes(_RECOVERY_CODE_BYTES)) for _ in range(count)]


def _format_recovery_code(raw: bytes) -> str:
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_recovery_code(code: str) -> str:
    """The code as typed, without the separators and case a user may vary."""
    return "".join(code.split()).replace("-", "").upper()


def hash_recovery_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code: how a recovery code is stored and found."""
    return hashlib.sha256(normalise_recovery_code(code).encode("utf-8")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    """Whether ``code`` has a recovery code's shape (16 base32 characters), not a TOTP's."""
    normalised = normalise_recovery_code(code)
    return len(normalised) == 16 and all(
        c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in normalised
    )


# --- the users and recovery_codes tables ---------------------------------------------------


class TwoFactorError(Exception):
    """A 2FA change that cannot be made; the message says why (and reveals no secret)."""


class TwoFactorStateError(TwoFactorError):
    """The change does not fit the account's 2FA state (already on, off, not enrolled)."""


class InvalidCodeError(TwoFactorError):
    def __init__(self) -> None:
        super().__init__("invalid or already used code")


_ALREADY_ON = "two-factor authentication is already on: disable it first"
_NOT_ENROLLED = "two-factor authentication is not set up: enrol first"
_OFF = "two-factor authentication is off"


def enrol(session: Session, user: User, issuer: str) -> Enrolment:
    """A fresh secret for ``user`` (not yet in force: :func:`confirm` turns it on). Enrolling
    again before confirming replaces the pending secret."""
    if user.totp_enabled:
        raise TwoFactorStateError(_ALREADY_ON)
    user.totp_secret = new_secret()
    user.totp_last_counter = None
    session.flush()
    return enrolment_for(user.totp_secret, user.email, issuer)


def confirm(session: Session, user: User, code: str, now: datetime | None = None) -> list[str]:
    """Turn 2FA on with the first code of the pending secret; returns the recovery codes (the
    only time they are shown)."""
    if user.totp_enabled:
        raise TwoFactorStateError(_ALREADY_ON)
    if user.totp_secret is None:
        raise TwoFactorStateError(_NOT_ENROLLED)
    if not _spend_totp(session, user, code, now or datetime.now(UTC)):
        raise InvalidCodeError
    user.totp_enabled = True
    session.flush()
    return _replace_recovery_codes(session, user)


def verify_login_code(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """Whether ``code`` is a fresh TOTP code of ``user`` or one of their unused recovery codes;
    either is spent (the caller commits). False when 2FA is off."""
    if not user.totp_enabled or user.totp_secret is None:
        return False
    now = now or datetime.now(UTC)
    if looks_like_recovery_code(code):
        return _spend_recovery_code(session, user, code, now)
    return _spend_totp(session, user, code, now)


def disable(session: Session, user: User, code: str, now: datetime | None = None) -> None:
    """Turn 2FA off, given a current code (or a recovery code); the caller has checked the
    password. The secret and the recovery codes are deleted."""
    if not user.totp_enabled:
        raise TwoFactorStateError(_OFF)
    if not verify_login_code(session, user, code, now):
        raise InvalidCodeError
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_counter = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def regenerate_recovery_codes(
    session: Session, user: User, code: str, now: datetime | None = None
) -> list[str]:
    """New recovery codes replacing all earlier ones, given a current code."""
    if not user.totp_enabled:
        raise TwoFactorStateError(_OFF)
    if not verify_login_code(session, user, code, now):
        raise InvalidCodeError
    return _replace_recovery_codes(session, user)


def recovery_codes_left(session: Session, user: User) -> int:
    unused = (RecoveryCode.user_id == user.id) & RecoveryCode.used_at.is_(None)
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(unused)) or 0


def _spend_totp(session: Session, user: User, code: str, now: datetime) -> bool:
    """Accept ``code`` once: the stored step moves forward in one conditional UPDATE, so two
    requests racing with the same code (on two workers) cannot both succeed."""
    assert user.totp_secret is not None
    step = accepted_step(user.totp_secret, code, user.totp_last_counter, now)
    if step is None:
        return False
    fresh = or_(User.totp_last_counter.is_(None), User.totp_last_counter < step)
    moved = _rowcount(
        session.execute(
            update(User)
            .where(User.id == user.id, fresh)
            .values(totp_last_counter=step)
            .execution_options(synchronize_session=False)
        )
    )
    if moved != 1:
        return False
    # The row holds it already; set_committed_value keeps the object from writing it again.
    set_committed_value(user, "totp_last_counter", step)
    return True


def _spend_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    spent = _rowcount(
        session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    return spent == 1


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(c)) for c in codes)
    session.flush()
    return codes


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
