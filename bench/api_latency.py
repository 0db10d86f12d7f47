"""Benchmark: latency and throughput of the API's data routes beside a bare FastAPI endpoint.

Serves the store of ``RWA_DUCKDB_PATH`` (``rwa demo`` builds it) the way users do, with
``rwa serve``, and beside it a bare FastAPI app (one route, ``GET /bare`` -> ``{"ok": true}``,
no middleware, no store) under the same uvicorn options (:func:`api.server.uvicorn_options`:
loop, HTTP parser, workers, no access log). Then, with ``wrk`` (Debian: ``apt-get install -y
wrk``), for each endpoint and right before it the bare one (so both see the same machine load):

* p50 and p99 latency at ``--light-connections`` (8) concurrent connections;
* requests/s at ``--heavy-connections`` (64), and the ratio to the bare endpoint's;
* timeouts, socket errors and non-2xx answers (any of them fails the run's check).

Endpoints: ``/health``, ``/assets/btc``, the daily bars of one asset (90), its hourly bars of
90 days (2,160), ``/predictions`` and ``/risk``, authenticated wherever the API asks for it:
``--header 'Authorization: Bearer rwa_...'`` sends a credential of yours; without one, a
throwaway enterprise user and API key (no rate limit) are made in a temporary operational
database the server is pointed at (when the ``rwa users`` command exists).

The targets (issue 12, on a 2-core machine) are checked and printed: p99 at 8 connections
under 20 ms (50 ms for the hourly read); at 64 connections at least 0.3x the bare endpoint's
requests/s (0.05x for the hourly read); no errors. Usage:
    .venv/bin/python bench/api_latency.py [--duration 10] [--workers 1] [--header H]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from pipelines.core.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
BARE_PATH = "/bare"


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    p99_target_ms: float
    ratio_target: float
    #: How many rows the answer must hold (checked once before measuring), if it is a list.
    rows: tuple[str, int] | None = None


ENDPOINTS = (
    Endpoint("/health", "/health", 20, 0.3),
    Endpoint("/assets/btc", "/assets/btc", 20, 0.3),
    Endpoint(
        "daily bars (90)", "/assets/buidl/ohlcv?resolution=1d&limit=90", 20, 0.3, ("bars", 90)
    ),
    Endpoint(
        "hourly bars (2,160)",
        "/assets/buidl/ohlcv?resolution=1h&limit=2160",
        50,
        0.05,
        ("bars", 2160),
    ),
    Endpoint("/predictions", "/predictions", 20, 0.3),
    Endpoint("/risk", "/risk", 20, 0.3),
)

#: wrk's report as one JSON line: latency percentiles (microseconds), counts, errors.
WRK_REPORT_LUA = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"""


def bare_app() -> FastAPI:
    """The baseline: FastAPI with one route and nothing else."""
    app = FastAPI()

    @app.get(BARE_PATH)
    def bare() -> dict[str, bool]:
        return {"ok": True}

    return app


@dataclass(frozen=True)
class Run:
    """One wrk run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors (connect, read, write), timeouts, non-2xx/3xx answers
    timeouts: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(
    url: str, connections: int, seconds: int, headers: Sequence[str], script: Path, threads: int
) -> Run:
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", "2s", "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    errors = sum(report[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=errors,
        timeouts=report["timeout"],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, headers: Sequence[str], timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    for header in headers:
        name, _, value = header.partition(":")
        request.add_header(name.strip(), value.strip())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def server(
    command: Sequence[str], env: dict[str, str], ready_url: str, log: Path, cwd: Path
) -> Iterator[None]:
    """A server process, ready once ``ready_url`` answers 200; stopped (SIGTERM) afterwards."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts Python slowly
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if get(ready_url, [], timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready after 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def credentials(env: dict[str, str], workdir: Path) -> list[str]:
    """A throwaway enterprise user's API key, as a header, in a temporary operational
    database that ``env`` then points the server at; none where the CLI has no users yet."""
    rwa = [sys.executable, "-m", "pipelines.cli"]
    probe = subprocess.run([*rwa, "users", "--help"], env=env, cwd=REPO, capture_output=True)
    if probe.returncode != 0:
        return []
    env["RWA_OPS_DB_URL"] = f"sqlite:///{workdir / 'ops.db'}"
    env["RWA_JWT_KEY_FILE"] = str(workdir / "jwt.key")
    email = "bench@example.com"
    create = [*rwa, "users", "create", "--email", email, "--tier", "enterprise"]
    password = b"bench-password-not-secret\n"
    create += ["--password-stdin"]
    subprocess.run(create, env=env, cwd=REPO, check=True, capture_output=True, input=password)
    made = subprocess.run(
        [*rwa, "keys", "create", "--email", email, "--name", "bench"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    key = re.search(r"rwa_[A-Za-z0-9_\-]+", made.stdout)
    if key is None:
        raise SystemExit(f"no key in `rwa keys create` output:\n{made.stdout}")
    return [f"Authorization: Bearer {key.group(0)}"]


def check_endpoints(base: str, headers: Sequence[str]) -> None:
    for endpoint in ENDPOINTS:
        # Generous: a first request may import libraries (pyarrow's pandas shim) under load.
        status, body = get(base + endpoint.path, headers, timeout=120)
        if status != 200:
            raise SystemExit(f"{endpoint.path}: HTTP {status} {body[:300]!r}")
        if endpoint.rows is not None:
            key, want = endpoint.rows
            got = len(json.loads(body)[key])
            if got != want:
                raise SystemExit(f"{endpoint.path}: {got} {key}, want {want} (run `rwa demo`)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--light-connections", type=int, default=8)
    parser.add_argument("--heavy-connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--header", action="append", default=[], help="sent with every request (repeatable)"
    )
    parser.add_argument("--only", help="measure only endpoints whose label contains this")
    parser.add_argument(
        "--source",
        type=Path,
        default=REPO,
        help="serve the API from this source tree (e.g. an export of an older commit, for a "
        "before/after comparison on the same machine); the bare app is always this one's",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="api-latency-"))
    env = {
        **os.environ,
        "RWA_API_HOST": "127.0.0.1",
        "RWA_API_WORKERS": str(args.workers),
        # Absolute, so that a server started in another source tree reads the same store.
        "RWA_DUCKDB_PATH": str(get_settings().serving.duckdb_path.resolve()),
    }
    headers = list(args.header) or credentials(env, workdir)
    script = workdir / "report.lua"
    script.write_text(WRK_REPORT_LUA)
    api_port, bare_port = free_port(), free_port()
    api_env = {**env, "RWA_API_PORT": str(api_port), "PYTHONPATH": str(args.source.resolve())}
    api_cmd = [sys.executable, "-m", "pipelines.cli", "serve"]
    bare_cmd = [
        sys.executable,
        "-c",
        "import uvicorn; from api.server import uvicorn_options; "
        "from pipelines.core.settings import get_settings; "
        "api = get_settings().api; "
        "uvicorn.run('bench.api_latency:bare_app', factory=True, workers=api.workers, "
        "**uvicorn_options(api))",
    ]
    bare_env = {**env, "RWA_API_PORT": str(bare_port), "PYTHONPATH": str(REPO)}
    api, bare = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
    endpoints = [e for e in ENDPOINTS if args.only is None or args.only in e.label]
    load_start = os.getloadavg()
    with (
        server(api_cmd, api_env, api + "/health", workdir / "api.log", args.source),
        server(bare_cmd, bare_env, bare + BARE_PATH, workdir / "bare.log", REPO),
    ):
        check_endpoints(api, headers)
        results = measure(args, api, bare, endpoints, headers, script)
    report(args, results, load_start, authenticated=bool(headers))


Pair = tuple[Endpoint, Run, Run, Run, Run]  # endpoint; bare light, light, bare heavy, heavy


def measure(
    args: argparse.Namespace,
    api: str,
    bare: str,
    endpoints: Sequence[Endpoint],
    headers: Sequence[str],
    script: Path,
) -> list[Pair]:
    def run(url: str, connections: int, sent: Sequence[str]) -> Run:
        return wrk(url, connections, args.duration, sent, script, args.threads)

    # Warm both servers (imports, first queries, DuckDB's caches) before anything counts.
    run(bare + BARE_PATH, args.light_connections, [])
    for endpoint in endpoints:
        run(api + endpoint.path, args.light_connections, headers)
    results = []
    for endpoint in endpoints:
        url = api + endpoint.path
        light_bare = run(bare + BARE_PATH, args.light_connections, [])
        light = run(url, args.light_connections, headers)
        heavy_bare = run(bare + BARE_PATH, args.heavy_connections, [])
        heavy = run(url, args.heavy_connections, headers)
        results.append((endpoint, light_bare, light, heavy_bare, heavy))
        print(f"  measured {endpoint.label}", file=sys.stderr, flush=True)
    return results


def report(
    args: argparse.Namespace,
    results: list[Pair],
    load_start: tuple[float, ...],
    authenticated: bool,
) -> None:
    load_end = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_start[0]:.1f} at start, "
        f"{load_end[0]:.1f} at end; uvicorn workers {args.workers}, uvloop + httptools; "
        f"wrk {args.duration} s per run, {args.threads} threads; "
        f"{'authenticated' if authenticated else 'NO credentials sent'}"
    )
    c8, c64 = args.light_connections, args.heavy_connections
    print(
        f"{'endpoint':<20} {f'p50@{c8}':>8} {f'p99@{c8}':>8} {'bare p99':>8} "
        f"{f'req/s@{c64}':>10} {'bare':>7} {'ratio':>6} {'errors':>7}  targets"
    )
    failed = 0
    for endpoint, light_bare, light, heavy_bare, heavy in results:
        ratio = heavy.rate / heavy_bare.rate if heavy_bare.rate else 0.0
        errors = light.errors + heavy.errors
        misses = []
        if light.p99_ms >= endpoint.p99_target_ms:
            misses.append(f"p99 >= {endpoint.p99_target_ms:g} ms")
        if ratio < endpoint.ratio_target:
            misses.append(f"ratio < {endpoint.ratio_target:g}")
        if errors:
            misses.append(f"{errors} errors ({light.timeouts + heavy.timeouts} timeouts)")
        failed += bool(misses)
        print(
            f"{endpoint.label:<20} {light.p50_ms:>6.1f}ms {light.p99_ms:>6.1f}ms "
            f"{light_bare.p99_ms:>6.1f}ms {heavy.rate:>10,.0f} {heavy_bare.rate:>7,.0f} "
            f"{ratio:>5.2f}x {errors:>7}  {'met' if not misses else 'MISSED: ' + ', '.join(misses)}"
        )
    print(f"{len(results) - failed} of {len(results)} endpoints meet every target")


if __name__ == "__main__":
    main()
