"""Pure rules of account records."""

from __future__ import annotations

import pytest

from api.accounts.users import normalise_email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Ada@Example.COM\n", "ada@example.com"),
        # A Unicode space is part of the address, never trimmed into another address.
        ("\x85@a.b", "\x85@a.b"),
        ("ada@example.com\xa0", "ada@example.com\xa0"),
    ],
)
def test_emails_are_lower_cased_and_only_ascii_blanks_trimmed(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored
