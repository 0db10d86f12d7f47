"""Run the API under uvicorn (what ``rwa serve`` calls)."""

from __future__ import annotations

from functools import partial

import uvicorn

from api.main import create_app
from pipelines.core.settings import ApiSettings, ServingSettings


def run(api: ApiSettings, serving: ServingSettings) -> None:
    """Serve the API on ``api.host:api.port`` until interrupted.

    The factory is bound to ``serving`` so that the store the app opens follows the same
    settings as the host and port (e.g. CLI overrides), not a fresh read of the environment.
    """
    uvicorn.run(
        partial(create_app, serving=serving),
        factory=True,
        host=api.host,
        port=api.port,
        log_level="info",
    )
