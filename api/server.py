"""Run the API under uvicorn (what ``rwa serve`` calls).

The server options live here, once, so that ``rwa serve``, the tests' live servers and
``bench/api_latency.py`` run the API alike: uvloop and httptools (``uvicorn[standard]``), no
uvicorn access log in the hot path (one log line per request, written synchronously, costs more
than a light endpoint; the API logs requests itself, as JSON, in its middleware), and
``workers`` processes.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

import uvicorn
from pydantic import SecretStr

from api.main import create_app
from pipelines.core.settings import ApiSettings, ServingSettings
from pipelines.core.settings.base import Section

#: The application factory as an import string, which uvicorn needs to start worker processes.
APP_FACTORY = "api.main:create_app"


def uvicorn_options(api: ApiSettings) -> dict[str, Any]:
    """What the API is served with besides the application."""
    return {
        "host": api.host,
        "port": api.port,
        "workers": api.workers,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "info",
    }


def run(api: ApiSettings, serving: ServingSettings) -> None:
    """Serve the API on ``api.host:api.port`` with ``api.workers`` processes until interrupted.

    The store the app opens follows ``serving`` (e.g. CLI overrides), not a fresh read of the
    environment: one process gets the factory bound to it; worker processes, which import the
    factory afresh, find it in the ``RWA_*`` variables they inherit.
    """
    if api.workers == 1:
        uvicorn.run(partial(create_app, serving=serving), factory=True, **uvicorn_options(api))
        return
    os.environ.update(environment(serving))
    uvicorn.run(APP_FACTORY, factory=True, **uvicorn_options(api))


def environment(section: Section) -> dict[str, str]:
    """``section``'s values as the ``RWA_*`` variables that set them."""
    variables = {}
    for name, variable in section.variable_names().items():
        value = getattr(section, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(str(item) for item in value)
        variables[variable] = str(value)
    return variables
