"""Who presents a credential, and how long the answer is kept: the per-process cache of
``api.accounts.credentials`` on a real SQLite operational database. What this process changes
applies at once; what another process changes, within the cache's lifetime; nothing outlives
the credential itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.sql.expression import Executable
from starlette.requests import Request

from api import deps
from api.accounts import credentials, keys, users
from api.accounts.audit import ClientInfo
from api.accounts.principal import Principal, Role, Scope
from api.accounts.service import Accounts
from api.accounts.tables import ApiKey, User
from api.accounts.tokens import TokenType
from tests.fixtures.accounts import accounts_settings, open_accounts

OPERATOR = keys.Change(ClientInfo(address=None, user_agent=None), actor_user_id=None)


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    settings = accounts_settings(tmp_path)
    settings.auth.cache_seconds = 0.5
    opened = open_accounts(settings)
    try:
        yield opened
    finally:
        opened.close()


def _user_and_key(accounts: Accounts, role: Role = Role.PROFESSIONAL) -> tuple[int, int, str]:
    with accounts.database.sessions() as session:
        user = users.create(session, f"{role.value}@example.com", "a long password", role)
        row, raw = keys.create(session, user.id, "k", {Scope.READ_DATA}, OPERATOR)
        session.commit()
        return user.id, row.id, raw


def _resolve(
    accounts: Accounts, *, api_key: str | None = None, token: str | None = None
) -> Principal | None:
    return credentials.resolve(
        accounts.database.sessions,
        accounts.issuer,
        accounts.principals,
        api_key=api_key,
        token=token,
    )


def _resolve_key(accounts: Accounts, raw: str) -> Principal | None:
    return _resolve(accounts, api_key=raw)


def _change_elsewhere(accounts: Accounts, statement: Executable) -> None:
    """Run ``statement`` as another process would: through an engine of its own."""
    engine = create_engine(accounts.database.engine.url)
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    finally:
        engine.dispose()


def test_a_change_by_another_process_applies_within_the_cache_lifetime(
    accounts: Accounts,
) -> None:
    _, key_id, raw = _user_and_key(accounts)
    principal = _resolve_key(accounts, raw)
    assert principal is not None and principal.role is Role.PROFESSIONAL
    revoked = update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=dt.datetime.now(dt.UTC))
    _change_elsewhere(accounts, revoked)
    # This process has not seen the change: its answer holds for the cache's lifetime...
    assert accounts.principals.get(raw) == principal
    time.sleep(0.6)
    # ...and no longer.
    assert accounts.principals.get(raw) is None
    assert _resolve_key(accounts, raw) is None


def test_a_change_by_this_process_applies_at_once(accounts: Accounts) -> None:
    user_id, key_id, raw = _user_and_key(accounts)
    assert _resolve_key(accounts, raw) is not None
    with accounts.database.sessions() as session:
        keys.revoke(session, user_id, key_id, OPERATOR)
        session.commit()
    assert accounts.principals.get(raw) is None
    assert _resolve_key(accounts, raw) is None


def test_a_role_change_or_deactivation_here_empties_the_cache(accounts: Accounts) -> None:
    user_id, _, raw = _user_and_key(accounts)
    assert _resolve_key(accounts, raw) is not None
    with accounts.database.sessions() as session:
        session.execute(update(User).where(User.id == user_id).values(role=Role.EXPLORER.value))
        session.commit()
    assert accounts.principals.get(raw) is None
    principal = _resolve_key(accounts, raw)
    assert principal is not None and principal.role is Role.EXPLORER
    with accounts.database.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.is_active = False
        session.commit()
    assert _resolve_key(accounts, raw) is None


def test_recording_a_keys_use_keeps_the_cache_and_a_rollback_changes_nothing(
    accounts: Accounts,
) -> None:
    user_id, key_id, raw = _user_and_key(accounts)
    generation = accounts.principals.generation
    # The first use writes last_used_at: not a change of anyone's rights.
    assert _resolve_key(accounts, raw) is not None
    with accounts.database.sessions() as session:
        assert session.get(ApiKey, key_id).last_used_at is not None  # type: ignore[union-attr]
        keys.revoke(session, user_id, key_id, OPERATOR)
        session.rollback()
    assert accounts.principals.generation == generation
    assert accounts.principals.get(raw) is not None


def test_an_entry_never_outlives_its_credential_or_a_race_with_a_change() -> None:
    cache = credentials.PrincipalCache(ttl_seconds=60)
    principal = Principal(user_id=1, role=Role.ENTERPRISE)
    cache.put("short-lived", principal, expires_at=time.time() + 0.2, generation=0)
    assert cache.get("short-lived") == principal
    time.sleep(0.3)
    assert cache.get("short-lived") is None
    # A lookup that began before the cache was emptied (a change committed meanwhile) is
    # not kept: its answer may predate the change.
    started = cache.generation
    cache.clear()
    cache.put("raced", principal, expires_at=float("inf"), generation=started)
    assert cache.get("raced") is None
    # Off: nothing is kept.
    off = credentials.PrincipalCache(ttl_seconds=0)
    off.put("any", principal, expires_at=float("inf"), generation=off.generation)
    assert off.get("any") is None


def test_access_tokens_are_cached_until_their_expiry_and_a_password_change_ends_them(
    accounts: Accounts,
) -> None:
    user_id, _, _ = _user_and_key(accounts)
    token, _ = accounts.issuer.issue(user_id, TokenType.ACCESS)

    assert _resolve(accounts, token=token) == Principal(user_id=user_id, role=Role.PROFESSIONAL)
    assert accounts.principals.get(token) is not None
    with accounts.database.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.password_changed_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        session.commit()
    assert accounts.principals.get(token) is None
    assert _resolve(accounts, token=token) is None


def test_a_busy_credential_is_refreshed_ahead_without_waiting(tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path)
    settings.auth.cache_seconds = 2.0
    accounts = open_accounts(settings)
    try:
        _, key_id, raw = _user_and_key(accounts)
        principal = _resolve_key(accounts, raw)
        revoked = (
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=dt.datetime.now(dt.UTC))
        )
        _change_elsewhere(accounts, revoked)
        time.sleep(1.1)  # past half the entry's lifetime, before its end
        request = Request(
            {
                "type": "http",
                "method": "GET",
                "path": "/",
                "headers": [(b"x-api-key", raw.encode())],
            }
        )

        async def requests_past_half_life() -> tuple[Principal | None, Principal | None]:
            # Answered from the entry at once, while one lookup replaces it in the background...
            stale = await deps._principal(request, accounts, None)
            refresh = accounts.principals.in_flight[raw]
            assert await refresh is None
            # ...which found the key revoked: the next request is refused, before the entry's end.
            return stale, await deps._principal(request, accounts, None)

        stale, fresh = asyncio.run(requests_past_half_life())
        assert stale == principal
        assert fresh is None
        assert accounts.principals.get(raw) is None
    finally:
        accounts.close()
