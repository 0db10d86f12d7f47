"""No code twice, even when two requests race with it (two workers, one code): on SQLite and
on PostgreSQL, of two sessions spending the same TOTP code or recovery code at once exactly
one succeeds."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pyotp

from api.accounts import totp
from api.accounts.principal import Role
from api.accounts.service import Accounts
from api.accounts.tables import User
from tests.fixtures.accounts import accounts_settings, open_accounts, provision

RACERS = 2


def _race(accounts: Accounts, user_id: int, code: str) -> list[bool]:
    """Each racer verifies ``code`` in a session of its own, released at the same instant."""
    start = threading.Barrier(RACERS)

    def spend() -> bool:
        with accounts.database.sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            start.wait()
            accepted = totp.verify_login_code(session, user, code)
            session.commit()
            return accepted

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(lambda _: spend(), range(RACERS)))


def test_racing_requests_spend_a_code_once(ops_db_url: str, tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path, ops_db_url)
    user_id = provision(settings, Role.EXPLORER).user_id
    accounts = open_accounts(settings)
    try:
        with accounts.database.sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            secret = totp.enrol(session, user, "test").secret
            authenticator = pyotp.TOTP(secret)
            step = authenticator.timecode(datetime.now(UTC))
            recovery = totp.confirm(session, user, authenticator.generate_otp(step))
            session.commit()
        assert sorted(_race(accounts, user_id, authenticator.generate_otp(step + 1))) == [
            False,
            True,
        ]
        assert sorted(_race(accounts, user_id, recovery[0])) == [False, True]
    finally:
        accounts.close()
