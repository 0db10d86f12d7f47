"""Run the API under uvicorn (what ``rwa serve`` calls).

The server options live here, once (:func:`uvicorn_options`), so that ``rwa serve`` and
``bench/api_latency.py``'s bare baseline run alike: uvloop (accepting waiting connections in
batches, :mod:`api.accept`) and httptools (``uvicorn[standard]``), JSON logs, and no uvicorn
access log (a log line per request, written synchronously, costs more than a light endpoint;
the API's middleware logs requests itself, as JSON).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from api.main import create_app
from api.security.logs import LOG_CONFIG
from pipelines.core.settings import ApiSettings, ServingSettings
from pipelines.core.settings.base import Section

#: How long a stopping server lets open connections finish (long-lived streams are ended).
GRACEFUL_SHUTDOWN_SECONDS = 10


def run(api: ApiSettings, serving: ServingSettings) -> None:
    """Serve the API on ``api.host:api.port`` with ``api.workers`` processes until interrupted.

    One worker: the factory is bound to ``serving`` so that the store the app opens follows the
    same settings as the host and port (e.g. CLI overrides), not a fresh read of the
    environment. Several: uvicorn spawns processes that import the app by name, so the
    settings reach them as ``RWA_*`` variables, and Prometheus metrics go to a folder all
    workers share (``api.security.metrics``).
    """
    options = uvicorn_options(api)
    if api.workers == 1:
        uvicorn.run(partial(served_app, serving=serving), factory=True, **options)
        return
    os.environ.update(_as_variables(api) | _as_variables(serving))
    with _multiprocess_metrics():
        uvicorn.run(f"{__name__}:served_app", factory=True, workers=api.workers, **options)


def served_app(serving: ServingSettings | None = None) -> FastAPI:
    """The app as a server process runs it. What start-up made (modules, the app, its schemas:
    a few hundred thousand objects) lives as long as the process; frozen, the garbage collector
    stops walking it in every full collection, pauses that made the slowest requests several
    times slower than the median (docs/benchmarks.md, "API latency")."""
    app = create_app(serving=serving)
    gc.freeze()
    return app


def uvicorn_options(api: ApiSettings) -> dict[str, Any]:
    """How uvicorn serves the API, besides the application and the number of workers."""
    return {
        "host": api.host,
        "port": api.port,
        # uvloop, named (uvicorn's "auto" would fall back silently to a slower loop), with the
        # accept of asyncio: uvloop's own takes one connection per turn of a busy loop, so 64
        # clients connecting together waited up to seconds in the listening queue.
        "loop": "api.accept:new_event_loop",
        "http": "httptools",
        # Logs are JSON lines with the request id; uvicorn's access log is replaced by ours
        # (api.security.middleware), which never writes query strings.
        "log_config": LOG_CONFIG,
        "access_log": False,
        # Event streams (/events/stream) stay open for up to an hour and /ws for as long as
        # the client likes: a stopping server waits this long for them, then ends them.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def _as_variables(section: Section) -> dict[str, str]:
    """The ``RWA_*`` variables that rebuild ``section`` in another process (unset fields are
    left to their defaults)."""
    variables: dict[str, str] = {}
    for field, variable in type(section).variable_names().items():
        value = getattr(section, field)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(item) for item in value)
        variables[variable] = str(value)
    return variables


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for the workers (one set by the operator is used,
    emptied first: files of dead processes would be counted forever)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        shutil.rmtree(configured, ignore_errors=True)
        Path(configured).mkdir(parents=True, exist_ok=True)
        yield
        return
    folder = tempfile.mkdtemp(prefix="rwa-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(folder, ignore_errors=True)
