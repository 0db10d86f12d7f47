"""The delivery log and the webhook secret over HTTP against a running server: the owner's
notifications only, newest first, filtered and capped; webhook URLs shown without their
token; bad parameters are 422s naming them; the secret is stable until rotated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from api.notifications.tables import Notification
from tests.api.accounts.account_server import AccountServer, account_server
from tests.api.notifications.conftest import FiringMaker

pytestmark = pytest.mark.slow

SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token?key=k3y"


@pytest.fixture(scope="module")
def ops_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: a server start costs ~10 s, and these queries are plain filters (the
    outbox and the claims are tested on both backends)."""
    return f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.db'}"


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path) -> Iterator[AccountServer]:
    with account_server(ops_db_url, ops_workdir) as running:
        yield running


def test_the_owner_reads_their_deliveries_newest_first(
    server: AccountServer, firings: FiringMaker
) -> None:
    user_id = server.credentials.user_id
    older = firings.enqueued([{"type": "email", "address": "ada@example.com"}], user_id)
    newer = firings.enqueued(
        [{"type": "webhook", "url": SECRET_URL}, {"type": "telegram", "chat_id": "42"}], user_id
    )
    strangers = firings.enqueued([{"type": "email", "address": "eve@example.com"}])
    with firings.database.sessions() as session:
        session.execute(
            update(Notification)
            .where(Notification.firing_id == newer, Notification.channel == "webhook")
            .values(status="failed", attempts=8, last_error="HTTP 503", last_status_code=503)
        )
        session.commit()

    with server.client() as http:
        answer = http.get("/alerts/deliveries")
        assert answer.status_code == 200, answer.text
        assert "s3cr3t" not in answer.text and "k3y" not in answer.text
        listed = answer.json()["deliveries"]
        assert [d["firing_id"] for d in listed] == [newer, newer, older]
        assert [d["id"] for d in listed] == sorted((d["id"] for d in listed), reverse=True)
        webhook = next(d for d in listed if d["channel"] == "webhook")
        assert webhook["destination"] == "https://hooks.example.com/services/…"
        assert (webhook["status"], webhook["attempts"]) == ("failed", 8)
        assert (webhook["last_error"], webhook["last_status_code"]) == ("HTTP 503", 503)
        assert webhook["next_attempt_at"] is None and webhook["sent_at"] is None
        mail = listed[-1]
        assert (mail["destination"], mail["status"]) == ("ada@example.com", "pending")
        assert mail["next_attempt_at"] is not None

        def ids(**params: object) -> list[int]:
            found = http.get("/alerts/deliveries", params=params)
            assert found.status_code == 200, found.text
            return [d["firing_id"] for d in found.json()["deliveries"]]

        assert ids(firing_id=older) == [older]
        assert ids(status="failed") == [newer]
        assert ids(limit=1) == [newer]
        assert ids(firing_id=strangers) == []  # another user's firing lists nothing
        for params, field in (
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"status": "lost"}, "status"),
            ({"firing_id": -1}, "firing_id"),
        ):
            refused = http.get("/alerts/deliveries", params=params)
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["query", field]
    with server.client(headers={}) as anonymous:
        assert anonymous.get("/alerts/deliveries").status_code == 401


def test_the_webhook_secret_is_stable_until_rotated(server: AccountServer) -> None:
    with server.client() as http:
        first = http.get("/alerts/webhook-secret").json()
        assert first["secret"].startswith("whsec_")
        assert http.get("/alerts/webhook-secret").json() == first
        rotated = http.post("/alerts/webhook-secret").json()
        assert rotated["secret"] != first["secret"]
        assert http.get("/alerts/webhook-secret").json()["secret"] == rotated["secret"]
    with server.client(headers={}) as anonymous:
        assert anonymous.get("/alerts/webhook-secret").status_code == 401
