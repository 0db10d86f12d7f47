"""``rwa serve`` as users start it, for the security tests: a real process on loopback over the
sample DuckDB store, configured through ``RWA_*`` variables, its JSON log kept for inspection
(a plain module, not a plugin)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.fixtures.processes import free_port
from tests.fixtures.sample_data import sample_duckdb
from tests.fixtures.serving import api_process

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Server:
    base_url: str
    log: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of the server's log so far (a line that is not JSON fails the test:
        every line must be JSON)."""
        return [orjson.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if line.get("logger") == "rwa.access"]

    def access_line(self, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The access-log line of one request. It is written after the response is sent, so
        the client may see the answer first: wait for the line."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.access_lines() if e["request_id"] == request_id]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, f"{len(found)} access-log lines for {request_id}"
                return found[0]
            time.sleep(0.1)


@contextmanager
def rwa_serve(workdir: Path, env: Mapping[str, str], *, workers: int = 1) -> Iterator[Server]:
    """A running ``rwa serve --workers N``; ``env`` adds to (or overrides) its variables."""
    port = free_port()
    duckdb_file = sample_duckdb(workdir / "serving.duckdb")
    variables = {
        **os.environ,
        "RWA_SERVING_BACKEND": "duckdb",
        "RWA_DUCKDB_PATH": str(duckdb_file),
        "RWA_API_HOST": "127.0.0.1",
        "RWA_API_PORT": str(port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **env,
    }
    command = [
        sys.executable,
        "-c",
        "import sys; from pipelines.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve",
        "--workers",
        str(workers),
    ]
    log = workdir / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    # cwd=workdir: a developer's .env in the repo must not redirect the server.
    with api_process(command, base_url, variables, workdir, log):
        yield Server(base_url, log)
