"""Alert rules over HTTP against a running server, on SQLite and on PostgreSQL: created,
read, listed in pages, paused and changed, deleted; another user's rule is a 404 to every
verb; the tier's number of rules is enforced; bad fields are 422s naming the field; a
read-only API key reads but cannot write; a sentence parsed by POST /alerts/parse is saved
as it was read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.accounts.database import OpsDatabase, create_ops_engine
from api.accounts.principal import Role
from api.accounts.tables import User
from api.alerts import service
from api.alerts.rules import RuleSpec
from api.alerts.tables import AlertRule
from api.security.tiers import MATRIX
from tests.api.accounts.account_server import AccountServer, explorer, server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

__all__ = ["explorer", "server"]  # fixtures

USDC_BELOW = {
    "target": {"kind": "asset", "asset_id": "usdc"},
    "condition": {"kind": "price", "direction": "below", "level": 0.995},
}
EXPLORER_RULES = MATRIX[Role.EXPLORER].alert_rules


def _create(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = http.post("/alerts/rules", json=body)
    assert created.status_code == 201, created.text
    rule: dict[str, Any] = created.json()
    return rule


def _error_locations(answer: httpx.Response) -> list[list[str | int]]:
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


def test_a_rule_is_created_read_listed_paused_changed_and_deleted(server: AccountServer) -> None:
    with server.client() as http:
        rule = _create(http, USDC_BELOW | {"channels": [{"type": "telegram", "chat_id": "42"}]})
        assert rule["user_id"] == server.credentials.user_id
        assert rule["name"] == "USDC: price is below 0.995 USD; via telegram"
        assert (rule["cooldown_minutes"], rule["hold_minutes"], rule["active"]) == (60, 0, True)
        assert http.get(f"/alerts/rules/{rule['id']}").json() == rule
        second = _create(http, {**USDC_BELOW, "name": "second", "cooldown_minutes": 0})

        page = http.get("/alerts/rules", params={"limit": 1, "offset": 1}).json()
        assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
        assert [r["id"] for r in page["rules"]] == [second["id"]]

        paused = http.patch(f"/alerts/rules/{rule['id']}", json={"active": False})
        assert paused.status_code == 200, paused.text
        assert paused.json()["active"] is False
        assert paused.json()["updated_at"] > rule["updated_at"]
        # A new condition renames an unnamed rule; a named one keeps its name.
        risk = {"kind": "risk_score", "direction": "above", "level": 70}
        changed = http.patch(f"/alerts/rules/{rule['id']}", json={"condition": risk}).json()
        assert changed["condition"] == risk | {"level": 70.0}
        assert changed["name"].startswith("USDC: risk score is above 70")
        assert changed["active"] is False and changed["channels"] == rule["channels"]
        kept = http.patch(f"/alerts/rules/{second['id']}", json={"condition": risk}).json()
        assert kept["name"] == "second"

        for rule_id in (rule["id"], second["id"]):
            assert http.delete(f"/alerts/rules/{rule_id}").status_code == 204
            assert http.get(f"/alerts/rules/{rule_id}").status_code == 404
            assert http.delete(f"/alerts/rules/{rule_id}").status_code == 404
        assert http.get("/alerts/rules").json()["total"] == 0
        # Where a user's data may be sent is security-relevant: every change is audited.
        export = http.get("/me/export").json()["audit_log"]
        ours = [(e["action"], e["detail"]) for e in export if e["action"].startswith("alert_rule")]
        assert ours.count(("alert_rule.create", {"rule_id": rule["id"]})) == 1
        assert ("alert_rule.delete", {"rule_id": second["id"]}) in ours


def test_another_users_rule_is_not_found_by_any_verb(
    server: AccountServer, explorer: ApiCredentials
) -> None:
    with server.client() as http:
        rule = _create(http, USDC_BELOW)
    with server.client(explorer.headers) as other:
        assert other.get("/alerts/rules").json()["total"] == 0
        path = f"/alerts/rules/{rule['id']}"
        answers = [
            other.get(path),
            other.patch(path, json={"active": False}),
            other.delete(path),
        ]
        assert [a.status_code for a in answers] == [404, 404, 404]
        # The same answer as for an id that never existed: ids reveal nothing.
        assert answers[0].json() == {"detail": f"no alert rule {rule['id']}"}
    with server.client() as http:
        assert http.get(path).json() == rule
        assert http.delete(path).status_code == 204
    with server.client({}) as anonymous:
        assert anonymous.get("/alerts/rules").status_code == 401
        assert anonymous.post("/alerts/parse", json={"text": "BTC > 1"}).status_code == 401


def test_the_tier_limits_how_many_rules_a_user_owns(
    server: AccountServer, explorer: ApiCredentials
) -> None:
    assert EXPLORER_RULES is not None
    with server.client(explorer.headers) as http:
        ids = [
            _create(http, USDC_BELOW | {"active": i % 2 == 0})["id"] for i in range(EXPLORER_RULES)
        ]
        refused = http.post("/alerts/rules", json=USDC_BELOW)
        assert refused.status_code == 403
        assert (
            f"the explorer tier owns at most {EXPLORER_RULES} alert rules"
            in refused.json()["detail"]
        )
        assert "professional" in refused.json()["detail"]
        assert http.get("/alerts/rules").json()["total"] == EXPLORER_RULES
        assert http.delete(f"/alerts/rules/{ids[0]}").status_code == 204
        _create(http, USDC_BELOW)  # a place freed is a place to take
        assert http.get("/alerts/rules").json()["total"] == EXPLORER_RULES
        for rule in http.get("/alerts/rules").json()["rules"]:
            assert http.delete(f"/alerts/rules/{rule['id']}").status_code == 204


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (
            {**USDC_BELOW, "target": {"kind": "asset", "asset_id": "nope"}},
            ["target", "asset", "asset_id"],
        ),
        (
            {**USDC_BELOW, "target": {"kind": "asset_class", "asset_class": "art"}},
            ["target", "asset_class", "asset_class"],
        ),
        (
            {**USDC_BELOW, "condition": {"kind": "price", "direction": "below"}},
            ["condition", "price", "level"],
        ),
        (
            {
                **USDC_BELOW,
                "condition": {"kind": "price", "direction": "below", "level": 1, "pct": 5},
            },
            ["condition", "price", "pct"],
        ),
        (
            {**USDC_BELOW, "condition": {"kind": "pct_move", "pct": 5, "window_minutes": 0}},
            ["condition", "pct_move", "window_minutes"],
        ),
        ({**USDC_BELOW, "condition": {"kind": "weather"}}, ["condition"]),
        (
            {
                "target": {"kind": "asset", "asset_id": "btc"},
                "condition": {"kind": "peg_deviation", "threshold_bps": 50},
            },
            ["condition"],
        ),
        (
            {**USDC_BELOW, "channels": [{"type": "webhook", "url": "ftp://example.com"}]},
            ["channels", 0, "webhook", "url"],
        ),
        ({**USDC_BELOW, "channels": [{"type": "email", "address": "a@b.io"}] * 2}, ["channels"]),
        ({**USDC_BELOW, "cooldown_minutes": -1}, ["cooldown_minutes"]),
        ({**USDC_BELOW, "hold_minutes": 100_000}, ["hold_minutes"]),
    ],
    ids=[
        "unknown asset",
        "unknown class",
        "missing level",
        "extra field",
        "zero window",
        "unknown kind",
        "peg on bitcoin",
        "bad webhook",
        "repeated channel",
        "negative cooldown",
        "long hold",
    ],
)
def test_a_bad_field_is_a_422_naming_it(
    server: AccountServer, body: dict[str, Any], location: list[str | int]
) -> None:
    with server.client() as http:
        assert ["body", *location] in _error_locations(http.post("/alerts/rules", json=body))


def test_a_change_is_validated_as_a_whole_rule(server: AccountServer) -> None:
    with server.client() as http:
        rule = _create(http, USDC_BELOW)
        path = f"/alerts/rules/{rule['id']}"
        btc = {"target": {"kind": "asset", "asset_id": "btc"}}
        peg = {"condition": {"kind": "peg_deviation", "threshold_bps": 25}}
        assert http.patch(path, json=peg).status_code == 200  # USDC has a peg
        conflict = http.patch(path, json=btc)
        assert conflict.status_code == 409
        assert conflict.json()["detail"].startswith("the changed rule is not valid: condition:")
        assert _error_locations(http.patch(path, json={"cooldown_minutes": None})) == [
            ["body", "cooldown_minutes"]
        ]
        assert ["body", "colour"] in _error_locations(http.patch(path, json={"colour": "red"}))
        assert http.get(path).json()["condition"] == peg["condition"] | {"threshold_bps": 25.0}
        assert http.delete(path).status_code == 204


def test_a_read_only_key_reads_and_parses_but_cannot_write(server: AccountServer) -> None:
    with server.client() as http:
        key = http.post("/me/keys", json={"name": "reader"}).json()["key"]
        rule = _create(http, USDC_BELOW)
    with server.client({"X-API-Key": key}) as reader:
        assert reader.get(f"/alerts/rules/{rule['id']}").status_code == 200
        assert reader.post("/alerts/parse", json={"text": "BTC > 100k"}).status_code == 200
        for answer in (
            reader.post("/alerts/rules", json=USDC_BELOW),
            reader.patch(f"/alerts/rules/{rule['id']}", json={"active": False}),
            reader.delete(f"/alerts/rules/{rule['id']}"),
        ):
            assert answer.status_code == 403
            assert answer.json()["detail"] == "needs scope manage:account"
    with server.client() as http:
        assert http.delete(f"/alerts/rules/{rule['id']}").status_code == 204


def test_a_parsed_sentence_is_saved_as_read_and_an_unreadable_one_is_explained(
    server: AccountServer,
) -> None:
    with server.client() as http:
        parsed = http.post("/alerts/parse", json={"text": "email me if USDC drops below 0.995"})
        assert parsed.status_code == 200, parsed.text
        answer = parsed.json()
        assert answer["rule"]["channels"] == [
            {"type": "email", "address": server.credentials.email}
        ]
        assert answer["incomplete_channels"] == []
        assert http.get("/alerts/rules").json()["total"] == 0  # parsing saves nothing
        saved = _create(http, answer["rule"])
        assert saved["condition"] == answer["rule"]["condition"]
        assert http.delete(f"/alerts/rules/{saved['id']}").status_code == 204

        refused = http.post("/alerts/parse", json={"text": "tell me if USDC wobbles below 1"})
        assert refused.status_code == 422
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "text"]
        assert error["ctx"]["not_understood"].startswith("wobbles")
        assert error["ctx"]["example"] == "tell me if USDC drops below 0.995"
        assert _error_locations(http.post("/alerts/parse", json={"text": ""})) == [["body", "text"]]


def test_rules_are_in_the_data_export_and_go_with_the_account(
    server: AccountServer, ops_db_url: str, ops_workdir: Path
) -> None:
    leaving = provision(accounts_settings(ops_workdir, ops_db_url), Role.PROFESSIONAL)
    with server.client(leaving.headers) as http:
        rule = _create(http, USDC_BELOW)
        assert http.get("/me/export").json()["alert_rules"] == [rule]
        gone = http.request("DELETE", "/me", json={"password": leaving.password})
        assert gone.status_code == 204
    engine = create_ops_engine(leaving.settings.ops_db)
    try:
        with engine.connect() as connection:
            owned = select(AlertRule.id).where(AlertRule.user_id == leaving.user_id)
            assert connection.execute(owned).all() == []
    finally:
        engine.dispose()


def test_evaluation_reads_the_active_rules_of_active_users(
    server: AccountServer, ops_db_url: str, ops_workdir: Path
) -> None:
    inactive = provision(accounts_settings(ops_workdir, ops_db_url), Role.PROFESSIONAL)
    with server.client() as http:
        active = _create(http, USDC_BELOW)
        paused = _create(http, USDC_BELOW | {"active": False})
    with server.client(inactive.headers) as http:
        orphan = _create(http, USDC_BELOW)
    database = OpsDatabase.open(server.credentials.settings.ops_db)
    try:
        with database.sessions() as session:
            session.execute(update(User).where(User.id == inactive.user_id).values(is_active=False))
            session.commit()
            ids = {rule.id for rule in service.active_rules(session)}
    finally:
        database.close()
    assert active["id"] in ids and not {paused["id"], orphan["id"]} & ids
    with server.client() as http:
        for rule in (active, paused):
            assert http.delete(f"/alerts/rules/{rule['id']}").status_code == 204


def test_a_creation_waits_for_a_concurrent_one_before_counting(
    server: AccountServer, ops_db_url: str, ops_workdir: Path
) -> None:
    """Two creations by one user with one place left: the second waits for the first's
    commit (PostgreSQL: the lock on the user's row; SQLite: the write lock), then counts it
    and is refused. Without the lock both would count only themselves and pass."""
    user_id = provision(accounts_settings(ops_workdir, ops_db_url), Role.EXPLORER).user_id
    spec = RuleSpec.model_validate(USDC_BELOW)
    database = OpsDatabase.open(server.credentials.settings.ops_db)

    def second() -> str:
        with database.sessions() as session:
            try:
                service.create(session, user_id, spec, limit=1)
            except service.RuleLimitError:
                return "refused"
            session.commit()
            return "created"

    try:
        with database.sessions() as first, ThreadPoolExecutor(1) as pool:
            service.create(first, user_id, spec, limit=1)  # flushed, not committed
            outcome = pool.submit(second)
            with pytest.raises(FuturesTimeout):
                outcome.result(timeout=1)  # blocked behind the first creation
            first.commit()
            assert outcome.result(timeout=60) == "refused"
        with database.sessions() as session:
            assert service.count(session, user_id) == 1
    finally:
        database.close()


def test_a_rule_whose_asset_left_the_reference_data_still_lists_and_deletes(
    server: AccountServer,
) -> None:
    """A release may drop an asset that stored rules name: they stay readable (not a 500),
    evaluation skips them, and their owner can delete them."""
    with server.client() as http:
        rule = _create(
            http, USDC_BELOW | {"condition": {"kind": "peg_deviation", "threshold_bps": 50}}
        )
    database = OpsDatabase.open(server.credentials.settings.ops_db)
    try:
        with database.sessions() as session:
            gone = update(AlertRule).where(AlertRule.id == rule["id"]).values(asset_id="gone-coin")
            session.execute(gone)
            session.commit()
    finally:
        database.close()
    with server.client() as http:
        listed = http.get(f"/alerts/rules/{rule['id']}")
        assert listed.status_code == 200, listed.text
        assert listed.json()["target"] == {"kind": "asset", "asset_id": "gone-coin"}
        assert rule["id"] in [r["id"] for r in http.get("/alerts/rules").json()["rules"]]
        # A change re-validates the whole rule: the gone asset is named, not a 500.
        changed = http.patch(f"/alerts/rules/{rule['id']}", json={"active": False})
        assert changed.status_code == 409 and "gone-coin" in changed.text
        assert http.delete(f"/alerts/rules/{rule['id']}").status_code == 204
