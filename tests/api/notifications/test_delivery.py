"""Delivery with real receivers on loopback, on both backends: a signed webhook, a mail
through an SMTP server, a Telegram fake answering 500 then 429 (retry_after) then 200, a
channel that stays down reaching ``failed`` after N attempts and a 410 failing at once, all
of one firing, each on its own; and the SSRF guard refusing loopback."""

from __future__ import annotations

import time

from api.notifications.delivery import DeliveryStep
from api.notifications.tables import DeliveryStatus, Notification
from pipelines.core.settings import NotificationSettings
from tests.api.notifications.conftest import FiringMaker
from tests.api.notifications.receivers import Loopback

MAX_ATTEMPTS = 3
#: What the fake Bot API asks to wait on its 429 (seconds).
TELEGRAM_RETRY_AFTER = 1
TERMINAL = {DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value}


def notification_settings(loopback: Loopback, **overrides: object) -> NotificationSettings:
    """Small backoff, loopback receivers (the guard is turned off explicitly)."""
    values: dict[str, object] = {
        "smtp_host": loopback.mail.host,
        "smtp_port": loopback.mail.port,
        "smtp_starttls": False,
        "telegram_bot_token": "123456:test-token",
        "telegram_api_base": loopback.telegram.base,
        "max_attempts": MAX_ATTEMPTS,
        "backoff_base_seconds": 0.05,
        # Above the backoff of 3 attempts (0.2 s), above the 429's retry_after: not capping it.
        "backoff_cap_seconds": 2,
        "claim_lease_seconds": 30,
        "request_timeout_seconds": 10,
        "allow_private_webhooks": True,
    }
    return NotificationSettings.model_validate(values | overrides)


def deliver_all(
    firings: FiringMaker, settings: NotificationSettings, firing_id: int, limit: float = 30
) -> dict[str, Notification]:
    """Run delivery passes until every notification of the firing is sent or failed."""
    step = DeliveryStep.open(firings.database.sessions, settings)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            if not step():
                rows = firings.rows(firing_id)
                if all(row.status in TERMINAL for row in rows.values()):
                    return rows
                time.sleep(0.05)
    finally:
        step.close()
    raise AssertionError(f"not delivered within {limit} s: {firings.rows(firing_id)}")


def test_each_channel_delivers_or_fails_on_its_own(
    firings: FiringMaker, loopback: Loopback
) -> None:
    webhooks, telegram, mail = loopback.webhooks, loopback.telegram, loopback.mail
    base = webhooks.url
    firing_id = firings.enqueued(
        [
            {"type": "webhook", "url": f"{base}/ok"},
            {"type": "webhook", "url": f"{base}/down"},
            {"type": "webhook", "url": f"{base}/gone"},
            {"type": "email", "address": "ada@example.com"},
            {"type": "telegram", "chat_id": "-100123"},
        ],
    )
    loopback.reset(firings.secret(firing_id))
    telegram.script = [
        (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, {}),
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": TELEGRAM_RETRY_AFTER},
            },
            {},
        ),
    ]
    rows = deliver_all(firings, notification_settings(loopback), firing_id)

    ok = rows[f"{base}/ok"]
    assert (ok.status, ok.attempts, ok.last_status_code) == ("sent", 1, 200)
    assert ok.sent_at is not None and ok.claimed_until is None
    delivered = [r for r in webhooks.requests if r.path == "/ok"]
    assert len(delivered) == 1  # the receiver answered 401 to any bad signature
    assert delivered[0].headers["webhook-id"].startswith(f"ntf_{ok.id}_")
    assert delivered[0].body.startswith(b'{"type":"alert.triggered"')

    down = rows[f"{base}/down"]
    assert (down.status, down.attempts, down.last_status_code) == ("failed", MAX_ATTEMPTS, 503)
    assert down.last_error is not None and "gave up after 3 attempts" in down.last_error
    # Every retry of one notification carries the same webhook-id.
    assert len({r.headers["webhook-id"] for r in webhooks.requests if r.path == "/down"}) == 1

    gone = rows[f"{base}/gone"]
    assert (gone.status, gone.attempts, gone.last_status_code) == ("failed", 1, 410)

    sent_mail = rows["ada@example.com"]
    assert (sent_mail.status, sent_mail.attempts) == ("sent", 1)
    assert len(mail.messages) == 1
    received = mail.messages[0]
    assert received["Subject"] == "Alert: USDC under peg (USDC)"
    assert received["To"] == "ada@example.com"
    assert received["Message-ID"].startswith(f"<ntf_{sent_mail.id}_")
    assert "close 0.9931" in received.get_payload()

    chat = rows["-100123"]
    assert (chat.status, chat.attempts, chat.last_status_code) == ("sent", 3, 200)
    assert [path for _, path, _ in telegram.calls] == ["/bot123456:test-token/sendMessage"] * 3
    assert telegram.calls[0][2]["chat_id"] == "-100123"
    # The third call waited at least the retry_after of the 429.
    assert telegram.calls[2][0] - telegram.calls[1][0] >= TELEGRAM_RETRY_AFTER * 0.95


def test_the_guard_refuses_loopback_webhooks_unless_allowed(
    firings: FiringMaker, loopback: Loopback
) -> None:
    webhooks = loopback.webhooks
    port = webhooks.url.rsplit(":", 1)[1]
    urls = [f"http://localhost:{port}/ok", f"http://[::1]:{port}/ok", webhooks.url + "/ok"]
    firing_id = firings.enqueued([{"type": "webhook", "url": u} for u in urls])
    loopback.reset(None)
    settings = notification_settings(loopback, allow_private_webhooks=False)
    for row in deliver_all(firings, settings, firing_id).values():
        assert (row.status, row.attempts) == ("failed", 1)
        assert row.last_error is not None and "non-public address" in row.last_error
    assert webhooks.requests == []
