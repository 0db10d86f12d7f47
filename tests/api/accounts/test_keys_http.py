"""API keys over HTTP against a running server, on SQLite and on PostgreSQL: created (shown
once), used for data reads as ``Authorization: Bearer`` and as ``X-API-Key``, scoped (a
read-only key cannot manage the account: 403 naming the scope), listed without secrets with
their last use, revoked (then 401), expired (401), bad input (422 naming the field), and the
audit trail; plus ``rwa keys create`` making a key this server accepts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from api.accounts.database import create_ops_engine
from api.accounts.principal import Role
from api.accounts.tables import ApiKey
from pipelines.cli import main as rwa
from tests.api.accounts.account_server import AccountServer, account_server
from tests.fixtures.accounts import provision

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path) -> Iterator[AccountServer]:
    with account_server(ops_db_url, ops_workdir) as running:
        yield running


def _create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    created = http.post("/me/keys", json={"name": "test", **body})
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def _listed(http: httpx.Client, key_id: int) -> dict[str, Any]:
    return next(key for key in http.get("/me/keys").json() if key["id"] == key_id)


def test_a_key_reads_data_as_bearer_or_header_and_a_read_key_cannot_manage(
    server: AccountServer,
) -> None:
    with server.client() as http:
        reader = _create(http, name="notebook")
        assert reader["scopes"] == ["read:data"]  # the default: least privilege
        assert reader["key"].startswith(f"rwa_{reader['prefix']}_")
        assert reader["last_used_at"] is None and reader["revoked_at"] is None
    for headers in ({"Authorization": f"Bearer {reader['key']}"}, {"X-API-Key": reader["key"]}):
        with server.client(headers) as client:
            assert client.get("/assets").status_code == 200
            assert client.get("/me").json()["email"] == server.credentials.email
            refused = client.get("/me/keys")
            assert refused.status_code == 403
            assert refused.json()["detail"] == "needs scope manage:account"
            assert client.post("/me/keys", json={"name": "escalate"}).status_code == 403
            assert client.delete(f"/me/keys/{reader['id']}").status_code == 403
    with server.client() as http:
        listed = _listed(http, reader["id"])
        assert "key" not in listed and "key_hash" not in listed
        # Used four times within the minute: recorded once, not rewritten on every request.
        assert listed["last_used_at"] is not None
        first_use = listed["last_used_at"]
    with server.client({"X-API-Key": reader["key"]}) as client:
        client.get("/assets")
    with server.client() as http:
        assert _listed(http, reader["id"])["last_used_at"] == first_use


def test_a_manage_key_manages_keys_and_a_revoked_key_is_refused(server: AccountServer) -> None:
    with server.client() as http:
        manager = _create(http, name="ops", scopes=["manage:account", "read:data"])
    with server.client({"Authorization": f"Bearer {manager['key']}"}) as client:
        victim = _create(client, name="short-lived")
        assert {key["id"] for key in client.get("/me/keys").json()} >= {victim["id"]}
        assert client.delete(f"/me/keys/{victim['id']}").status_code == 204
        assert client.delete(f"/me/keys/{victim['id']}").status_code == 204  # idempotent
        assert client.delete("/me/keys/2147483647").status_code == 404
        assert _listed(client, victim["id"])["revoked_at"] is not None
    with server.client({"X-API-Key": victim["key"]}) as client:
        refused = client.get("/assets")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    with server.client() as http:
        log = http.get("/me/export").json()
    actions = [(entry["action"], entry["detail"]) for entry in log["audit_log"]]
    detail = {"key_id": victim["id"], "prefix": victim["prefix"], "scopes": "read:data"}
    assert ("apikey.create", detail) in actions
    assert actions.count(("apikey.revoke", detail)) == 1  # revoking twice is recorded once
    assert victim["key"] not in str(log) and manager["key"] not in str(log)


def test_forged_tampered_expired_and_other_users_keys_are_refused(server: AccountServer) -> None:
    with server.client() as http:
        key = _create(http, name="expiring", expires_in_days=1)
    assert key["expires_at"] is not None
    tampered = key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B")
    forged = f"rwa_{key['prefix']}_{'x' * 43}"
    for raw in (tampered, forged, "rwa_", "rwa_nothex00_x"):
        with server.client({"X-API-Key": raw}) as client:
            assert client.get("/assets").status_code == 401, raw
    engine = create_ops_engine(server.credentials.settings.ops_db)
    try:
        with engine.begin() as connection:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            connection.execute(update(ApiKey).where(ApiKey.id == key["id"]).values(expires_at=past))
    finally:
        engine.dispose()
    with server.client({"X-API-Key": key["key"]}) as client:
        assert client.get("/assets").status_code == 401
    # Another user can neither see nor revoke the key.
    other = provision(server.credentials.settings, Role.EXPLORER)
    with server.client(other.headers) as client:
        assert client.get("/me/keys").json() == []
        assert client.delete(f"/me/keys/{key['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "scopes": ["admin"]}, "scopes"),
        ({"name": "k", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "k", "key": "rwa_mine"}, "key"),
    ],
)
def test_bad_key_requests_get_422_naming_the_field(
    server: AccountServer, body: dict[str, Any], field: str
) -> None:
    with server.client() as http:
        answer = http.post("/me/keys", json=body)
    assert answer.status_code == 422
    assert field in answer.json()["detail"][0]["loc"]


def test_rwa_keys_create_prints_a_key_the_server_accepts(
    server: AccountServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in server.credentials.env().items():
        monkeypatch.setenv(name, value)
    args = ["keys", "create", "--email", server.credentials.email, "--name", "cli"]
    assert rwa([*args, "--scopes", "read:data"]) == 0
    key = next(w for w in capsys.readouterr().out.split() if w.startswith("rwa_"))
    with server.client({"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/assets").status_code == 200
    assert rwa(["keys", "create", "--email", "nobody@example.com", "--name", "x"]) == 2
    assert "no user" in capsys.readouterr().err


def test_an_unreadable_body_is_400_and_405_lists_every_method(server: AccountServer) -> None:
    with server.client() as http:
        garbage = http.post(
            "/me/keys", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
        )
        assert garbage.status_code == 400  # documented on every account route
        wrong_method = http.put("/me/keys")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, POST"
