"""TOTP at login: the minimal check the login flow needs (enrolment, recovery codes and
disabling come with the 2FA management work, which replaces this module).

A code is accepted once: the time-step it matched is kept in ``totp_last_counter`` and a
code of that step or an earlier one is refused.
"""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy.orm import Session

from api.accounts.tables import User

#: Codes of the previous and the next 30-second step are accepted too (clock drift).
_DRIFT_STEPS = 1


def verify_login_code(session: Session, user: User, code: str) -> bool:
    """Whether ``code`` is a fresh TOTP code of ``user``; records its step (caller commits)."""
    if not user.totp_enabled or user.totp_secret is None:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = dt.datetime.now(dt.UTC)
    for drift in range(-_DRIFT_STEPS, _DRIFT_STEPS + 1):
        moment = now + dt.timedelta(seconds=drift * totp.interval)
        counter = totp.timecode(moment)
        if pyotp.utils.strings_equal(code, totp.at(moment)):
            if user.totp_last_counter is not None and counter <= user.totp_last_counter:
                return False
            user.totp_last_counter = counter
            session.flush()
            return True
    return False
