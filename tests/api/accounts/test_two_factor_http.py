"""TOTP 2FA over HTTP against a running server, on SQLite and on PostgreSQL: enrol, confirm,
log in with a challenge and a code, a code refused the second time, recovery codes that work
once, regeneration, disabling with re-authentication, the audit trail, and the hostile paths
(wrong password or code, wrong state, a key without the manage:account scope)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from api.accounts.principal import Role
from tests.api.accounts.account_server import AccountServer, account_server
from tests.fixtures.accounts import provision

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path) -> Iterator[AccountServer]:
    with account_server(ops_db_url, ops_workdir) as running:
        yield running


def _login(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post("/auth/login", json={"email": email, "password": password})


def _verify(http: httpx.Client, email: str, password: str, code: str) -> httpx.Response:
    """Log in and answer the challenge with ``code``."""
    login = _login(http, email, password)
    assert login.status_code == 200, login.text
    assert login.json()["two_factor_required"] is True
    challenge = login.json()["challenge_token"]
    return http.post("/auth/verify-2fa", json={"challenge_token": challenge, "code": code})


def _enable(http: httpx.Client, password: str) -> tuple[pyotp.TOTP, int, list[str]]:
    """Enrol and confirm: the authenticator, the time-step of the confirming code, the
    recovery codes."""
    enrol = http.post("/me/2fa/enrol", json={"password": password})
    assert enrol.status_code == 200, enrol.text
    authenticator = pyotp.TOTP(enrol.json()["secret"])
    step = authenticator.timecode(datetime.now(UTC))
    confirm = http.post("/me/2fa/confirm", json={"code": authenticator.generate_otp(step)})
    assert confirm.status_code == 200, confirm.text
    return authenticator, step, confirm.json()["recovery_codes"]


def _wrong_code(authenticator: pyotp.TOTP) -> str:
    """Six digits that are no code of the current window."""
    now = authenticator.timecode(datetime.now(UTC))
    valid = {authenticator.generate_otp(step) for step in range(now - 2, now + 3)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def test_enrolment_needs_the_password_and_gives_a_uri_and_a_qr_code(server: AccountServer) -> None:
    password = server.credentials.password
    with server.client() as http:
        wrong = http.post("/me/2fa/enrol", json={"password": "not the password"})
        assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong password"
        missing = http.post("/me/2fa/enrol", json={})
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "password"
        enrol = http.post("/me/2fa/enrol", json={"password": password})
        assert enrol.status_code == 200, enrol.text
        body = enrol.json()
        uri = urlsplit(body["otpauth_uri"])
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        query = parse_qs(uri.query)
        assert (query["secret"], query["issuer"]) == ([body["secret"]], ["RWA Lakehouse"])
        assert body["qr_svg"].startswith("<svg")
        # Not on until confirmed, and a wrong code does not turn it on.
        wrong_code = _wrong_code(pyotp.TOTP(body["secret"]))
        assert http.post("/me/2fa/confirm", json={"code": wrong_code}).status_code == 403
        assert http.get("/me").json()["totp_enabled"] is False
        off = http.post("/me/2fa/disable", json={"password": password, "code": wrong_code})
        assert off.status_code == 409


@pytest.fixture(scope="module")
def enabled(server: AccountServer) -> tuple[pyotp.TOTP, int, list[str]]:
    """2FA turned on for the server's user (re-enrolling replaces the pending secret)."""
    with server.client() as http:
        return _enable(http, server.credentials.password)


def test_login_with_totp_refuses_a_code_twice_and_recovery_codes_work_once(
    server: AccountServer, enabled: tuple[pyotp.TOTP, int, list[str]]
) -> None:
    email, password = server.credentials.email, server.credentials.password
    authenticator, step, recovery = enabled
    assert len(recovery) == 10 and len(set(recovery)) == 10
    with server.client() as http:
        assert http.get("/me").json()["totp_enabled"] is True
        assert http.post("/me/2fa/enrol", json={"password": password}).status_code == 409
    with server.client({}) as anonymous:
        # The code that confirmed the enrolment was spent: refused at login.
        spent = authenticator.generate_otp(step)
        assert _verify(anonymous, email, password, spent).status_code == 401
        next_code = authenticator.generate_otp(step + 1)
        ok = _verify(anonymous, email, password, next_code)
        assert ok.status_code == 200 and ok.json()["access_token"], ok.text
        # The same code seconds later (an observed code replayed) is refused.
        assert _verify(anonymous, email, password, next_code).status_code == 401
        assert _verify(anonymous, email, password, recovery[0].lower()).status_code == 200
        assert _verify(anonymous, email, password, recovery[0]).status_code == 401
        # A code without a genuine challenge gets nothing.
        forged = {"challenge_token": "x.y.z", "code": recovery[1]}
        assert anonymous.post("/auth/verify-2fa", json=forged).status_code == 401


def test_wrong_codes_are_throttled_with_the_login_s_second_step(
    server: AccountServer, enabled: tuple[pyotp.TOTP, int, list[str]]
) -> None:
    # The tests before spent this account's budget of wrong codes (5 a minute): the login's
    # second step and /me/2fa count together, and even a right code waits.
    with server.client() as http:
        throttled = http.post("/me/2fa/recovery-codes", json={"code": enabled[2][-1]})
    assert throttled.status_code == 429, throttled.text
    assert int(throttled.headers["retry-after"]) > 0


def test_recovery_codes_are_replaced_and_2fa_is_disabled_with_password_and_code(
    server: AccountServer,
) -> None:
    # A user of their own: the throttle test spent the first user's budget of wrong codes.
    user = provision(server.credentials.settings, Role.PROFESSIONAL)
    with server.client(user.headers) as http:
        first_set = _enable(http, user.password)[2]
        refused = http.post("/me/2fa/recovery-codes", json={"code": "AAAA-AAAA-AAAA-AAAA"})
        assert refused.status_code == 403 and refused.json()["detail"] == "wrong code"
        renewed = http.post("/me/2fa/recovery-codes", json={"code": first_set[-1]})
        assert renewed.status_code == 200, renewed.text
        fresh = renewed.json()["recovery_codes"]
        assert set(fresh).isdisjoint(first_set)
        wrong = http.post("/me/2fa/disable", json={"password": "nope", "code": fresh[0]})
        assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong password"
        stale = {"password": user.password, "code": first_set[-2]}
        assert http.post("/me/2fa/disable", json=stale).json()["detail"] == "wrong code"
        disabled = http.post("/me/2fa/disable", json={"password": user.password, "code": fresh[0]})
        assert disabled.status_code == 204, disabled.text
        assert http.get("/me").json()["totp_enabled"] is False
        assert http.post("/me/2fa/recovery-codes", json={"code": fresh[1]}).status_code == 409
        log = http.get("/me/export").json()["audit_log"]
    actions = {(entry["action"], entry["outcome"]) for entry in log}
    for action in ("2fa.enrol", "2fa.enable", "2fa.recovery_codes", "2fa.disable"):
        assert (action, "success") in actions
    assert ("2fa.disable", "failure") in actions
    assert not any(code in str(log) for code in fresh + first_set)
    with server.client({}) as anonymous:
        assert "access_token" in _login(anonymous, user.email, user.password).json()


def test_a_key_without_manage_account_cannot_touch_2fa(server: AccountServer) -> None:
    with server.client() as http:
        created = http.post("/me/keys", json={"name": "reader", "scopes": ["read:data"]})
        assert created.status_code == 201, created.text
        key = created.json()["key"]
    with server.client({"X-API-Key": key}) as reader:
        answer = reader.post("/me/2fa/enrol", json={"password": server.credentials.password})
        assert answer.status_code == 403
        assert "manage:account" in answer.json()["detail"]
