"""A real API server for tests: a uvicorn process on loopback over a DuckDB file, started the
way users start it, and ready only when its ``/health`` says so (a plain module, not a plugin).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Generous: on a loaded machine importing the app alone can take several seconds.
STARTUP_TIMEOUT_S = 120.0


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


def _wait_until_healthy(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"server not healthy after {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")


@contextmanager
def running_server(
    duckdb_file: Path, workdir: Path, argv: Callable[[int], Sequence[str]] = uvicorn_cli
) -> Iterator[str]:
    """Base URL of an API server on the DuckDB store ``duckdb_file``, configured through
    ``RWA_*`` variables only; terminated afterwards, and checked to have shut down cleanly
    (its lifespan ran to the end, closing the store)."""
    port = free_port()
    env = {
        **os.environ,
        "RWA_SERVING_BACKEND": "duckdb",
        "RWA_DUCKDB_PATH": str(duckdb_file),
        "RWA_API_HOST": "127.0.0.1",
        "RWA_API_PORT": str(port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        # cwd=workdir: a developer's .env in the repo must not redirect the server.
        proc = subprocess.Popen(
            [sys.executable, *argv(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(proc, base_url, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # Recent uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean
    # exit too; the log line shows the lifespan ran to its end (the store was closed).
    output = log.read_text()
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
