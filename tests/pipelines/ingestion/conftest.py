"""Fixtures every connector test shares."""

from __future__ import annotations

import pytest

from tests.fixtures.http_replay import RecordingSleep


@pytest.fixture
def sleep() -> RecordingSleep:
    """Records the retry waits a client asks for instead of waiting them."""
    return RecordingSleep()
