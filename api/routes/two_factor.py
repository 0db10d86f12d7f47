"""``/me/2fa``: TOTP two-factor authentication of the signed-in user: enrol, confirm (2FA on,
recovery codes shown once), disable, new recovery codes.

Every change needs the ``manage:account`` scope and proof of presence: enrolling needs the
password (a stolen access token alone cannot put an attacker's authenticator on the account),
disabling needs the password and a current code, new recovery codes need a current code. A
wrong password or code answers 403 and counts against the 2FA throttle the login's second
step uses (per account and per client address; 429 when spent); a change that does not fit
the account's 2FA state (enrolling twice, disabling when off) 409. Every change and every
refused attempt is in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy.orm import Session

from api.accounts import audit, totp, users
from api.accounts.audit import ClientInfo, Outcome
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
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    AccountsDep,
    Client,
    DbSession,
    ManagedAccount,
    Responses,
)
from api.schemas import ErrorOut
from api.security.ratelimit import Throttle, Throttles, ThrottlesDep

_CONFLICT: Responses = {
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not possible in the account's 2FA state (e.g. already on, or off).",
    }
}

router = APIRouter(
    prefix="/me/2fa",
    tags=["account"],
    responses=UNAUTHORIZED | FORBIDDEN | _CONFLICT | TOO_MANY_REQUESTS,
)


@dataclass(frozen=True)
class Attempt:
    """One request that proves presence with a password or a code: throttled before, and
    a wrong answer audited, counted and refused (403)."""

    session: Session
    user: User
    client: ClientInfo
    throttles: Throttles

    def _key(self) -> dict[str, str]:
        # The same account key as the login's second step: one budget of wrong codes.
        return {"account": f"user:{self.user.id}", "client": self.client.address or "unknown"}

    def refuse(self, action: str, why: str) -> HTTPException:
        self.throttles.record_failure(Throttle.TWO_FACTOR, **self._key())
        detail = {"why": why}
        user_id = self.user.id
        audit.record(
            self.session, action, Outcome.FAILURE, self.client, actor_user_id=user_id, detail=detail
        )
        self.session.commit()  # the refusal is recorded even though the request fails
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"wrong {why}")

    @contextmanager
    def answering(self, action: str) -> Iterator[User]:
        """Run a change: 429 when the throttle is spent, 409 for the wrong state, 403 for a
        wrong code; on success the change is audited and committed."""
        self.throttles.check(Throttle.TWO_FACTOR, **self._key())
        try:
            yield self.user
        except totp.TwoFactorStateError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
        except totp.InvalidCodeError:
            raise self.refuse(action, "code") from None
        audit.record(self.session, action, Outcome.SUCCESS, self.client, actor_user_id=self.user.id)
        self.session.commit()

    def check_password(self, action: str, password: str) -> None:
        if not users.check_password(self.user, password):
            raise self.refuse(action, "password")


def _attempt(
    session: DbSession, user: ManagedAccount, client: Client, throttles: ThrottlesDep
) -> Attempt:
    return Attempt(session, user, client, throttles)


AttemptDep = Annotated[Attempt, Depends(_attempt)]


@router.post("/enrol", response_model=TwoFactorEnrolmentOut, summary="Start setting up TOTP")
def enrol(
    body: PasswordConfirmIn, attempt: AttemptDep, accounts: AccountsDep
) -> TwoFactorEnrolmentOut:
    """A new secret, as an ``otpauth://`` URI and a QR code (SVG) for an authenticator app.
    2FA is not on yet: confirm with the first code the app shows. Enrolling again before
    confirming replaces the secret."""
    with attempt.answering("2fa.enrol") as user:
        attempt.check_password("2fa.enrol", body.password)
        enrolment = totp.enrol(attempt.session, user, accounts.auth.totp_issuer)
    return TwoFactorEnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post("/confirm", response_model=RecoveryCodesOut, summary="Turn TOTP on")
def confirm(body: TwoFactorCodeIn, attempt: AttemptDep) -> RecoveryCodesOut:
    """The first code of the enrolled secret turns 2FA on. The answer holds ten one-time
    recovery codes, shown this once: each can replace a TOTP code at login once."""
    with attempt.answering("2fa.enable") as user:
        codes = totp.confirm(attempt.session, user, body.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/disable", status_code=status.HTTP_204_NO_CONTENT, summary="Turn TOTP off")
def disable(body: TwoFactorDisableIn, attempt: AttemptDep) -> Response:
    """Needs the password and a current code (or a recovery code). The secret and the
    recovery codes are deleted."""
    with attempt.answering("2fa.disable") as user:
        attempt.check_password("2fa.disable", body.password)
        totp.disable(attempt.session, user, body.code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/recovery-codes", response_model=RecoveryCodesOut, summary="Replace the recovery codes"
)
def recovery_codes(body: TwoFactorCodeIn, attempt: AttemptDep) -> RecoveryCodesOut:
    """Ten new recovery codes (shown this once) for a current code; the earlier ones, used or
    not, stop working."""
    with attempt.answering("2fa.recovery_codes") as user:
        codes = totp.regenerate_recovery_codes(attempt.session, user, body.code)
    return RecoveryCodesOut(recovery_codes=codes)
