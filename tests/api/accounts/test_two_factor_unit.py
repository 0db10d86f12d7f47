"""The pure logic of TOTP 2FA: secrets, enrolment URI and QR code, the time window, replay
refusal by time-step, and recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp

from api.accounts import totp

NOW = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
STEP = timedelta(seconds=30)


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def test_a_secret_is_160_random_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert secret != totp.new_secret()


def test_the_enrolment_names_the_issuer_and_account_and_draws_the_uri() -> None:
    secret = totp.new_secret()
    enrolment = totp.enrolment_for(secret, "ann@example.com", "RWA Lakehouse")
    uri = urlsplit(enrolment.otpauth_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/RWA%20Lakehouse:ann%40example.com"
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["RWA Lakehouse"]}
    assert enrolment.qr_svg.startswith("<svg") and enrolment.qr_svg.rstrip().endswith("</svg>")


def test_a_code_is_accepted_one_step_either_side_and_not_beyond() -> None:
    secret = totp.new_secret()
    current = pyotp.TOTP(secret).timecode(NOW)
    for offset in (-1, 0, 1):
        step = totp.accepted_step(secret, _code(secret, NOW + offset * STEP), None, NOW)
        assert step == current + offset
    for offset in (-3, -2, 2, 3):
        assert totp.accepted_step(secret, _code(secret, NOW + offset * STEP), None, NOW) is None


def test_a_code_of_an_accepted_step_or_earlier_is_refused() -> None:
    secret = totp.new_secret()
    code = _code(secret, NOW)
    step = totp.accepted_step(secret, code, None, NOW)
    assert step is not None
    assert totp.accepted_step(secret, code, step, NOW) is None  # the same code again
    previous = _code(secret, NOW - STEP)
    assert totp.accepted_step(secret, previous, step, NOW) is None  # an older one
    assert totp.accepted_step(secret, _code(secret, NOW + STEP), step, NOW) == step + 1


def test_malformed_and_wrong_codes_are_refused() -> None:
    secret = totp.new_secret()
    good = _code(secret, NOW)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "12345", "1234567", "abcdef", "١٢٣٤٥٦", good + "0"):
        assert totp.accepted_step(secret, code, None, NOW) is None
    assert totp.accepted_step(secret, f" {good[:3]} {good[3:]} ", None, NOW) is not None


def test_recovery_codes_are_random_readable_and_hashed_irrespective_of_form() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == totp.RECOVERY_CODE_COUNT == len(set(codes))
    code = codes[0]
    assert len(code) == 19 and code.count("-") == 3
    assert totp.looks_like_recovery_code(code)
    assert not totp.looks_like_recovery_code("123456")
    same = {totp.hash_recovery_code(v) for v in (code, code.lower(), code.replace("-", " "))}
    assert len(same) == 1
    assert totp.hash_recovery_code(codes[1]) not in same
    assert len(next(iter(same))) == 64
