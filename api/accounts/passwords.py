"""Password hashing: Argon2id through pwdlib.

Hashes made with older parameters are upgraded on the next successful login
(:func:`verify_and_update`). :func:`burn_verification` spends the time of a verification
when there is no account, so a login answers an unknown email as slowly as a wrong password.
"""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_and_update(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; the second item is a new hash to store when the stored
    one uses outdated parameters (else None)."""
    return _HASHER.verify_and_update(password, password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("not a password of anyone")


def burn_verification(password: str) -> None:
    """Do the work of one verification and throw the result away."""
    _HASHER.verify(password, _dummy_hash())
