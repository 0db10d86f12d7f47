"""Pure rules of delivery: Standard Webhooks signatures (the specification's own test
vector), Retry-After in both forms, full-jitter backoff, which HTTP answers are retried, and
which addresses the SSRF guard refuses."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from api.notifications import guard, signing
from api.notifications.attempts import Verdict, backoff_seconds, http_outcome, parse_retry_after
from pipelines.core.settings import NotificationSettings

# From the Standard Webhooks reference libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specifications_vector() -> None:
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_accepts_the_real_thing_and_refuses_tampering_and_replays() -> None:
    secret = signing.new_secret()
    body = b'{"type":"alert.triggered"}'
    headers = signing.headers(secret, "ntf_1_2", body, now=SPEC_TS)
    signing.verify(secret, headers, body, now=SPEC_TS + 10)
    # Two signatures while rotating: one matching is enough.
    rotated = headers | {"webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    signing.verify(secret, rotated, body, now=SPEC_TS)
    hostile = [
        (headers, body + b" ", SPEC_TS),  # body changed
        (headers | {"webhook-id": "ntf_9_2"}, body, SPEC_TS),  # id changed
        (headers, body, SPEC_TS + signing.TOLERANCE_SECONDS + 1),  # replayed later
        ({"webhook-id": "x"}, body, SPEC_TS),  # headers missing
    ]
    for received, sent_body, now in hostile:
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, received, sent_body, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(signing.new_secret(), headers, body, now=SPEC_TS)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sun, 06 Dec 2026 20:00:30 GMT", now) == 30
    assert parse_retry_after("Sun, 06 Dec 2026 19:00:00 GMT", now) == 0  # in the past
    for junk in (None, "", "soon", "-5", "1e9"):
        assert parse_retry_after(junk, now) is None


def test_backoff_is_jittered_capped_and_honours_retry_after() -> None:
    settings = NotificationSettings(backoff_base_seconds=1, backoff_cap_seconds=10)
    waits = [backoff_seconds(3, settings) for _ in range(200)]
    assert all(0 <= w <= 4 for w in waits) and len(set(waits)) > 100
    assert all(backoff_seconds(30, settings) <= 10 for _ in range(50))
    assert backoff_seconds(1, settings, retry_after=7) >= 7
    assert backoff_seconds(1, settings, retry_after=10_000) == 10  # a hostile wait is capped


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.SENT),
        (204, Verdict.SENT),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.FAIL),
        (400, Verdict.FAIL),
        (401, Verdict.FAIL),
        (404, Verdict.FAIL),
        (410, Verdict.FAIL),
    ],
)
def test_which_answers_are_retried(status: int, verdict: Verdict) -> None:
    assert http_outcome(status, None, "").verdict == verdict


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # loopback in IPv6 clothing
    ],
)
def test_guard_classifies_addresses(address: str, public: bool) -> None:
    assert guard.is_public(ipaddress.ip_address(address)) is public


def test_guard_refuses_urls_it_cannot_check() -> None:
    for url in ("ftp://example.com/x", "http:///x", "http://user:pw@example.com/"):
        with pytest.raises(guard.BlockedAddressError):
            guard.resolve(url, allow_private=True)
    with pytest.raises(guard.BlockedAddressError, match="non-public"):
        guard.resolve("http://127.0.0.1:9/x", allow_private=False)
    with pytest.raises(guard.ResolutionError):
        guard.resolve("http://no-such-host.invalid/x", allow_private=False)
    target = guard.resolve("https://[::1]:8443/hook?a=1", allow_private=True)
    assert target.pinned_url == "https://[::1]:8443/hook?a=1"
    assert target.host_header == "[::1]:8443"
