"""The account flow over HTTP against a running server, once on SQLite and once on
PostgreSQL: register, log in (with TOTP when enabled), refresh with rotation, reuse
detection, logout, password change, export, deletion, admin endpoints, hostile tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import select

from api.accounts.principal import Role
from api.accounts.tables import User
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, open_accounts, provision
from tests.fixtures.sample_data import sample_duckdb

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Api:
    http: httpx.Client
    admin: ApiCredentials

    def new_user(self, password: str = PASSWORD) -> tuple[str, dict[str, Any]]:
        """Register and log in a fresh explorer; its email and token pair."""
        email = f"user-{secrets.token_hex(4)}@Example.com"
        registered = self.http.post("/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 202, registered.text
        return email, self.login(email, password)

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        answer = self.http.post("/auth/login", json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(ops_db_url: str, ops_workdir: Path) -> Iterator[Api]:
    duckdb_file = sample_duckdb(ops_workdir / "serving.duckdb")
    admin = provision(accounts_settings(ops_workdir, ops_db_url), Role.ADMIN)
    with (
        running_server(duckdb_file, ops_workdir, admin) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as http,
    ):
        yield Api(http, admin)


def test_register_login_refresh_rotation_reuse_and_logout(api: Api) -> None:
    email, pair = api.new_user()
    me = api.http.get("/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["role"]) == (email.lower(), "explorer")
    assert api.http.get("/assets", headers=bearer(pair["access_token"])).status_code == 200

    rotated = api.http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != pair["refresh_token"]
    # The old refresh token again: reuse. The whole family is revoked, the new token too.
    reused = api.http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    assert reused.headers["www-authenticate"] == "Bearer"
    stolen = api.http.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert stolen.status_code == 401

    third = api.login(email)
    logout = api.http.post("/auth/logout", json={"refresh_token": third["refresh_token"]})
    assert logout.status_code == 204
    after = api.http.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert after.status_code == 401


def test_web_clients_hold_tokens_in_httponly_cookies(api: Api) -> None:
    email, _ = api.new_user()
    with httpx.Client(base_url=str(api.http.base_url), timeout=60) as browser:
        login = browser.post(
            "/auth/login", json={"email": email, "password": PASSWORD, "use_cookies": True}
        )
        cookies = login.headers.get_list("set-cookie")
        assert all("HttpOnly" in c and "SameSite=strict" in c for c in cookies), cookies
        assert any(c.startswith("rwa_refresh=") and "Path=/auth" in c for c in cookies)
        assert browser.get("/me").json()["email"] == email.lower()
        assert browser.post("/auth/refresh", json={"use_cookies": True}).status_code == 200
        assert browser.post("/auth/logout", json={}).status_code == 204
        assert browser.get("/me").status_code == 401
    assert not api.http.cookies  # the shared client never holds a session


def test_no_user_enumeration(api: Api) -> None:
    email, _ = api.new_user()
    again = api.http.post("/auth/register", json={"email": email.upper(), "password": "x" * 12})
    fresh = api.http.post("/auth/register", json={"email": f"new-{email}", "password": "x" * 12})
    assert (again.status_code, again.json()) == (fresh.status_code, fresh.json())
    # The taken email kept its password.
    api.login(email)
    unknown = api.http.post("/auth/login", json={"email": "nobody@example.com", "password": "x"})
    wrong = api.http.post("/auth/login", json={"email": email, "password": "wrong password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {"detail": "invalid email or password"}


def test_password_guessing_is_throttled(api: Api) -> None:
    email, _ = api.new_user()
    answers = [
        api.http.post("/auth/login", json={"email": email, "password": f"guess {n}"}).status_code
        for n in range(6)
    ]
    assert answers == [401] * 5 + [429]
    refused = api.http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_password_change_ends_every_other_session(api: Api) -> None:
    email, pair = api.new_user()
    wrong = api.http.post(
        "/me/password",
        json={"current_password": "not it", "new_password": "a new password"},
        headers=bearer(pair["access_token"]),
    )
    assert wrong.status_code == 403
    changed = api.http.post(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "a new password"},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 200
    fresh = changed.json()
    assert api.http.get("/me", headers=bearer(fresh["access_token"])).status_code == 200
    old = api.http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert old.status_code == 401
    assert api.http.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).is_success
    api.login(email, "a new password")


def test_export_then_delete_keeps_the_audit_log_pseudonymised(api: Api) -> None:
    email, pair = api.new_user()
    headers = bearer(pair["access_token"])
    export = api.http.get("/me/export", headers=headers)
    assert export.status_code == 200
    data = export.json()
    user_id = data["account"]["id"]
    assert data["account"]["email"] == email.lower()
    assert {e["action"] for e in data["audit_log"]} >= {"account.register", "auth.login"}
    assert len(data["sessions"]) == 1
    assert "password_hash" not in json.dumps(data) and PASSWORD not in json.dumps(data)

    refused = api.http.request("DELETE", "/me", json={"password": "not it"}, headers=headers)
    assert refused.status_code == 403
    deleted = api.http.request("DELETE", "/me", json={"password": PASSWORD}, headers=headers)
    assert deleted.status_code == 204
    assert api.http.get("/me", headers=headers).status_code == 401
    assert (
        api.http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )

    log = api.http.get("/admin/audit", params={"limit": 500}, headers=api.admin.headers).json()
    assert not [e for e in log if user_id in (e["actor_user_id"], e["subject_user_id"])]
    theirs = [e for e in log if e["actor_pseudonym"] and e["action"] == "account.register"]
    alias = next(e for e in log if e["action"] == "account.delete")["actor_pseudonym"]
    assert alias.startswith("deleted-") and any(e["actor_pseudonym"] == alias for e in theirs)


def test_admin_manages_tiers_and_reads_the_audit_log(api: Api) -> None:
    email, pair = api.new_user()
    user_headers = bearer(pair["access_token"])
    for method, path in (("GET", "/admin/users"), ("GET", "/admin/audit")):
        assert api.http.request(method, path, headers=user_headers).status_code == 403
    assert (
        api.http.patch("/admin/users/1", json={"role": "admin"}, headers=user_headers).status_code
        == 403
    )

    listed = api.http.get("/admin/users", params={"role": "explorer"}, headers=api.admin.headers)
    user = next(u for u in listed.json() if u["email"] == email.lower())
    promoted = api.http.patch(
        f"/admin/users/{user['id']}", json={"role": "enterprise"}, headers=api.admin.headers
    )
    assert promoted.json()["role"] == "enterprise"
    assert api.http.get("/me", headers=user_headers).json()["role"] == "enterprise"  # at once
    entries = api.http.get(
        "/admin/audit",
        params={"action": "admin.user_update", "user_id": user["id"]},
        headers=api.admin.headers,
    ).json()
    assert entries[0]["detail"] == {"role": {"from": "explorer", "to": "enterprise"}}
    assert entries[0]["actor_user_id"] == api.admin.user_id

    off = api.http.patch(
        f"/admin/users/{user['id']}", json={"is_active": False}, headers=api.admin.headers
    )
    assert off.json()["is_active"] is False
    assert api.http.get("/me", headers=user_headers).status_code == 401
    assert (
        api.http.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
    )
    own = api.http.patch(
        f"/admin/users/{api.admin.user_id}", json={"role": "explorer"}, headers=api.admin.headers
    )
    assert own.status_code == 409
    assert (
        api.http.patch("/admin/users/999999", json={}, headers=api.admin.headers).status_code == 404
    )


def test_login_with_totp_needs_a_fresh_code(api: Api) -> None:
    email, _ = api.new_user()
    secret = pyotp.random_base32()
    accounts = open_accounts(api.admin.settings)
    try:
        with accounts.database.sessions() as session:
            user = session.scalars(select(User).where(User.email == email.lower())).one()
            user.totp_secret, user.totp_enabled = secret, True
            session.commit()
    finally:
        accounts.close()
    login = api.http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    challenge = login.json()
    assert challenge["two_factor_required"] is True and "access_token" not in challenge
    # The challenge is no access token.
    assert api.http.get("/me", headers=bearer(challenge["challenge_token"])).status_code == 401
    code = pyotp.TOTP(secret).now()
    body = {"challenge_token": challenge["challenge_token"], "code": code}
    verified = api.http.post("/auth/verify-2fa", json=body)
    assert verified.status_code == 200
    assert api.http.get("/me", headers=bearer(verified.json()["access_token"])).status_code == 200
    replayed = api.http.post("/auth/verify-2fa", json=body)
    assert replayed.status_code == 401


def _forge(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def test_hostile_tokens_are_refused(api: Api) -> None:
    _, pair = api.new_user()
    access = pair["access_token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    key = api.admin.settings.auth.jwt_key_file.read_bytes().strip()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    head, body, signature = access.split(".")
    escalated = dict(claims, sub=str(api.admin.user_id))
    hostile = {
        "tampered": f"{head}.{_forge(escalated, {}).split('.')[1]}.{signature}",
        "bad signature": f"{head}.{body}.{signature[::-1]}",
        "alg none": _forge(escalated, {"alg": "none", "typ": "JWT"}),
        "expired": jwt.encode(dict(claims, iat=now - 120, exp=now - 60), key, algorithm="HS256"),
        "other key": jwt.encode(claims, b"k" * 32, algorithm="HS256"),
        "HS512": jwt.encode(claims, key, algorithm="HS512"),
        "refresh as access": pair["refresh_token"],
        "garbage": "not.a.token",
    }
    for name, token in hostile.items():
        answer = api.http.get("/me", headers=bearer(token))
        assert answer.status_code == 401, name
    # An access token is no refresh token either.
    assert api.http.post("/auth/refresh", json={"refresh_token": access}).status_code == 401
    assert api.http.get("/assets").status_code == 401
    assert api.http.get("/assets", headers={"X-API-Key": "rwa_unknown"}).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/register", {"email": "not-an-email", "password": PASSWORD}, "email"),
        ("/auth/register", {"email": "a@example.com", "password": "short"}, "password"),
        ("/auth/login", {"email": "a@example.com"}, "password"),
        ("/auth/verify-2fa", {"challenge_token": "x", "code": "1"}, "code"),
        ("/auth/refresh", {"refresh_token": 5}, "refresh_token"),
        (
            "/auth/register",
            {"email": "a@example.com", "password": PASSWORD, "role": "admin"},
            "role",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    answer = api.http.post(path, json=body)
    assert answer.status_code == 422
    assert field in [error["loc"][-1] for error in answer.json()["detail"]]
