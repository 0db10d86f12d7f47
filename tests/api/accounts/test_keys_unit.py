"""The pure logic of API keys: their form, parsing, hashing, scopes and last-used rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.accounts import keys
from api.accounts.principal import Scope


def test_a_key_has_a_public_prefix_and_a_high_entropy_secret_and_is_stored_hashed() -> None:
    key = keys.generate_key()
    assert key.raw.startswith(f"rwa_{key.prefix}_")
    assert len(key.raw) > 50 and key.raw != keys.generate_key().raw
    assert keys.prefix_of(key.raw) == key.prefix
    assert key.key_hash == keys.hash_key(key.raw) and key.raw not in key.key_hash
    assert keys.hash_matches(key.raw, key.key_hash)
    assert not keys.hash_matches(key.raw + "x", key.key_hash)


def test_only_well_formed_keys_have_a_prefix() -> None:
    key = keys.generate_key()
    malformed = [
        "",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",  # a JWT
        "rwa_",
        f"rwa_{key.prefix}",
        f"rwa_{key.prefix}_",
        f"rwa_{key.prefix.upper()}_secret",
        "rwa_1234567_secret",
        "rwa_123456789_secret",
        "rwa_zzzzzzzz_secret",
    ]
    for raw in malformed:
        assert keys.prefix_of(raw) is None, raw
    assert keys.is_api_key(key.raw) and not keys.is_api_key("Bearer rwa_x")


def test_scopes_round_trip_and_unknown_words_grant_nothing() -> None:
    both = keys.encode_scopes([Scope.READ_DATA, Scope.MANAGE_ACCOUNT, Scope.READ_DATA])
    assert both == "manage:account read:data"
    assert keys.decode_scopes(both) == frozenset(Scope)
    assert keys.decode_scopes("read:data admin:all  ") == {Scope.READ_DATA}
    assert keys.decode_scopes("") == frozenset()


def test_last_used_is_written_at_most_once_a_minute() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert keys.last_used_is_stale(None, now)
    assert not keys.last_used_is_stale(now - timedelta(seconds=59), now)
    assert keys.last_used_is_stale(now - timedelta(seconds=60), now)
