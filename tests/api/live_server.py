"""A real API server for tests: a uvicorn process on loopback over a DuckDB file, started the
way users start it, and ready only when its ``/health`` says so (a plain module, not a plugin).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.fixtures.accounts import ApiCredentials
from tests.fixtures.processes import free_port
from tests.fixtures.serving import api_process

REPO_ROOT = Path(__file__).resolve().parents[2]


def uvicorn_cli(port: int) -> list[str]:
    """The arguments of ``python`` that serve the API on ``port`` with uvicorn's own CLI."""
    return [
        "-m",
        "uvicorn",
        "api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@contextmanager
def running_server(
    duckdb_file: Path,
    workdir: Path,
    credentials: ApiCredentials,
    argv: Callable[[int], Sequence[str]] = uvicorn_cli,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Base URL of an API server on the DuckDB store ``duckdb_file`` and the operational
    database of ``credentials`` (whose token it accepts), configured through ``RWA_*``
    variables only; terminated afterwards, and checked to have shut down cleanly (its
    lifespan ran to the end, closing the store). ``env`` adds variables (e.g. a lake root)."""
    port = free_port()
    variables = {
        **os.environ,
        "RWA_SERVING_BACKEND": "duckdb",
        "RWA_DUCKDB_PATH": str(duckdb_file),
        "RWA_API_HOST": "127.0.0.1",
        "RWA_API_PORT": str(port),
        **credentials.env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    log = workdir / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    # cwd=workdir: a developer's .env in the repo must not redirect the server.
    command = [sys.executable, *argv(port)]
    with api_process(command, base_url, variables, workdir, log) as proc:
        yield base_url
    # Recent uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean
    # exit too; the log line shows the lifespan ran to its end (the store was closed).
    output = log.read_text()
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
