"""``/me/2fa``: TOTP two-factor authentication of the signed-in user: enrol, confirm (2FA on,
recovery codes shown once), disable, new recovery codes.

Every change needs the ``manage:account`` scope and proof of presence: enrolling needs the
password (a stolen access token alone cannot put an attacker's authenticator on the account),
disabling needs the password and a current code, new recovery codes need a current code. A
wrong password or code answers 403; a change that does not fit the account's state (enrolling
twice, disabling when off) 409. Every change and every refused attempt is in the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from api.accounts import audit, totp, users
from api.accounts.audit import Outcome
from api.accounts.schemas import (
    PasswordConfirmIn,
    RecoveryCodesOut,
    TwoFactorCodeIn,
    TwoFactorDisableIn,
    TwoFactorEnrolmentOut,
)
from api.accounts.tables import User
from api.deps import (
    FORBIDDEN,
    UNAUTHORIZED,
    AccountsDep,
    Client,
    DbSession,
    ManagedAccount,
    Responses,
)
from api.schemas import ErrorOut

_CONFLICT: Responses = {
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not possible in the account's 2FA state (e.g. already on, or off).",
    }
}

router = APIRouter(
    prefix="/me/2fa", tags=["account"], responses=UNAUTHORIZED | FORBIDDEN | _CONFLICT
)


def _refuse(session: DbSession, user: User, action: str, client: Client, why: str) -> HTTPException:
    """Record a refused attempt (committed: the refusal must outlive the request) and the 403."""
    audit.record(
        session, action, Outcome.FAILURE, client, actor_user_id=user.id, detail={"why": why}
    )
    session.commit()
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"wrong {why}")


def _conflict(error: totp.TwoFactorStateError) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(error))


@router.post("/enrol", response_model=TwoFactorEnrolmentOut, summary="Start setting up TOTP")
def enrol(
    body: PasswordConfirmIn,
    session: DbSession,
    user: ManagedAccount,
    accounts: AccountsDep,
    client: Client,
) -> TwoFactorEnrolmentOut:
    """A new secret, as an ``otpauth://`` URI and a QR code (SVG) for an authenticator app.
    2FA is not on yet: confirm with the first code the app shows. Enrolling again before
    confirming replaces the secret."""
    if not users.check_password(user, body.password):
        raise _refuse(session, user, "2fa.enrol", client, "password")
    try:
        enrolment = totp.enrol(session, user, accounts.auth.totp_issuer)
    except totp.TwoFactorStateError as error:
        raise _conflict(error) from None
    audit.record(session, "2fa.enrol", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return TwoFactorEnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post("/confirm", response_model=RecoveryCodesOut, summary="Turn TOTP on")
def confirm(
    body: TwoFactorCodeIn, session: DbSession, user: ManagedAccount, client: Client
) -> RecoveryCodesOut:
    """The first code of the enrolled secret turns 2FA on. The answer holds ten one-time
    recovery codes, shown this once: each can replace a TOTP code at login once."""
    try:
        codes = totp.confirm(session, user, body.code)
    except totp.TwoFactorStateError as error:
        raise _conflict(error) from None
    except totp.InvalidCodeError:
        raise _refuse(session, user, "2fa.enable", client, "code") from None
    audit.record(session, "2fa.enable", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/disable", status_code=status.HTTP_204_NO_CONTENT, summary="Turn TOTP off")
def disable(
    body: TwoFactorDisableIn, session: DbSession, user: ManagedAccount, client: Client
) -> Response:
    """Needs the password and a current code (or a recovery code). The secret and the
    recovery codes are deleted."""
    if not users.check_password(user, body.password):
        raise _refuse(session, user, "2fa.disable", client, "password")
    try:
        totp.disable(session, user, body.code)
    except totp.TwoFactorStateError as error:
        raise _conflict(error) from None
    except totp.InvalidCodeError:
        raise _refuse(session, user, "2fa.disable", client, "code") from None
    audit.record(session, "2fa.disable", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/recovery-codes", response_model=RecoveryCodesOut, summary="Replace the recovery codes"
)
def recovery_codes(
    body: TwoFactorCodeIn, session: DbSession, user: ManagedAccount, client: Client
) -> RecoveryCodesOut:
    """Ten new recovery codes (shown this once) for a current code; the earlier ones, used or
    not, stop working."""
    try:
        codes = totp.regenerate_recovery_codes(session, user, body.code)
    except totp.TwoFactorStateError as error:
        raise _conflict(error) from None
    except totp.InvalidCodeError:
        raise _refuse(session, user, "2fa.recovery_codes", client, "code") from None
    audit.record(session, "2fa.recovery_codes", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    return RecoveryCodesOut(recovery_codes=codes)
