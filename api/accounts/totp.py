"""TOTP two-factor authentication: enrolment, confirmation, login codes and recovery codes.

A user enrols (a fresh secret, its ``otpauth://`` URI and a QR code as SVG), confirms with the
first code their authenticator shows (2FA turns on and ten one-time recovery codes are shown
once), then answers a code at every login. A code is accepted within one 30-second step either
side of the server's clock, and never twice: the last accepted time-step is stored and a code of
that step or an earlier one is refused, so an observed code cannot be replayed. Recovery codes
carry 80 random bits, so a SHA-256 hash is enough to store them (no slow hash is needed, as for
passwords) and lets a code be found by its hash.

The pure functions (secrets, URIs, codes, hashes) come first; the functions taking a session
read and write the ``users`` and ``recovery_codes`` tables.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno

#: Codes are accepted this many 30-second steps either side of the server's clock.
VALID_WINDOW = 1
#: Recovery codes issued at confirmation (and at each regeneration).
RECOVERY_CODE_COUNT = 10
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
#: Random bytes in a recovery code: 80 bits, shown as four groups of four base32 characters.
_RECOVERY_CODE_BYTES = 10


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What an authenticator app needs: the secret, its URI and the URI as a QR code (SVG)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def enrolment_for(secret: str, account_name: str, issuer: str) -> Enrolment:
    """The URI and QR code that load ``secret`` into an authenticator app."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=f"{issuer}: {account_name}")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=svg)


def accepted_step(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    """The time-step ``code`` belongs to when it is valid at ``now`` (within
    :data:`VALID_WINDOW` steps) and newer than ``last_step``; otherwise None.

    Every candidate step is compared in constant time, so the answer's timing says nothing
    about which step (if any) matched.
    """
    candidate = code.strip().replace(" ", "")
    if not (candidate.isascii() and candidate.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    accepted: int | None = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        matches = hmac.compare_digest(totp.generate_otp(step), candidate)
        if matches and (last_step is None or step > last_step):
            accepted = step
    return accepted


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` fresh recovery codes, e.g. ``ABCD-EFGH-IJKL-MNOP``."""
    return [_format_recovery_code(secrets.token_bytes(_RECOVERY_CODE_BYTES)) for _ in range(count)]


def _format_recovery_code(raw: bytes) -> str:
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_recovery_code(code: str) -> str:
    """The code as typed, without the separators and case a user may vary."""
    return "".join(code.split()).replace("-", "").upper()


def hash_recovery_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code: how a recovery code is stored and found."""
    return hashlib.sha256(normalise_recovery_code(code).encode("utf-8")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    """Whether ``code`` has a recovery code's shape (16 base32 characters), not a TOTP's."""
    normalised = normalise_recovery_code(code)
    return len(normalised) == 16 and all(
        c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in normalised
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
