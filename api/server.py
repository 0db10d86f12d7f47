"""Run the API under uvicorn (what ``rwa serve`` calls)."""

from __future__ import annotations

from functools import partial

import uvicorn

from api.main import create_app
from pipelines.core.settings import Settings


def run(settings: Settings) -> None:
    """Serve the API on ``settings.api.host:api_port`` until interrupted.

    The factory is bound to ``settings`` so that the store the app opens follows the same
    settings object as the host and port (e.g. CLI overrides), not a fresh read of the
    environment.
    """
    uvicorn.run(
        partial(create_app, settings=settings),
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        log_level="info",
    )
