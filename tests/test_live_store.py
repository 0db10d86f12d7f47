"""The serving store stays live: loads run while the API serves, as analysts use it.

A real API server (``rwa serve``) answers concurrent reads while the demo and ``rwa load``
write the store from other processes: no read may fail, and the loaded rows are served
afterwards without a restart. (The demo runs in the suite's process, the server's other side
all the same: ``rwa demo`` as a command is tested end to end in ``test_demo_e2e.py``; started
here too it would only pay a process start-up again.) A server started while a loader holds
the store open starts and serves. The same load-while-serving check runs against TimescaleDB.

One small demo (two assets, three days of hourly bars) builds the lake every check loads from.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.routes.health import CHECK_SECONDS
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.accounts import accounts_settings, provision
from tests.fixtures.demo import demo_in_process
from tests.fixtures.processes import free_port
from tests.fixtures.sample_data import load_sample, sample_duckdb
from tests.fixtures.serving import api_process
from tests.fixtures.timescaledb import throwaway_database

# The demo shares the suite's Spark session.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("spark")]

RWA = str(Path(sys.executable).with_name("rwa"))
REPO_ROOT = Path(__file__).resolve().parents[1]
#: ``rwa demo --days 3 --end 2026-06-01 --frequency 1h --assets btc,usdc``
DEMO_FLAGS: dict[str, object] = {
    "sim_days": 3,
    "sim_end": dt.date(2026, 6, 1),
    "sim_frequency": "1h",
    "sim_assets": ["btc", "usdc"],
}
#: Bars of the demo's window: none of them is in the sample store the servers start on.
DEMO_BARS: dict[str, str | int] = {
    "resolution": "1h",
    "start": "2026-05-29T00:00:00Z",
    "limit": 500,
}
#: What the hammering clients read, round and round; each must answer 200 every time.
READS = (
    "/health",
    "/assets",
    "/assets/btc",
    "/assets/btc/ohlcv?resolution=1h&limit=100",
    "/assets/btc/ohlcv?resolution=1w",
    "/assets/usdc/features?limit=10",
)
CLIENTS = 3
#: Generous: a read may queue behind a busy CPU, but must not fail.
READ_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 900


@dataclass
class Hammer:
    """Reads :data:`READS` from ``base_url`` in :data:`CLIENTS` threads until stopped; every
    answer other than 200, and every transport error, is a failure."""

    base_url: str
    headers: dict[str, str]
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> None:
        with httpx.Client(
            base_url=self.base_url, timeout=READ_TIMEOUT_S, headers=self.headers
        ) as client:
            while not self._stop.is_set():
                for path in READS:
                    self._read(client, path)
                self._stop.wait(0.1)  # leave the loader some of the two cores

    def _read(self, client: httpx.Client, path: str) -> None:
        try:
            response = client.get(path)
            failure = None if response.status_code == 200 else f"{response.status_code} "
            failure = failure and failure + response.text[:300]
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        with self._count_lock:
            self.requests += 1
            if failure:
                self.failures.append(f"GET {path}: {failure}")

    @contextmanager
    def running(self) -> Iterator[Hammer]:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(READ_TIMEOUT_S + 5)


def _env(cwd: Path, **settings: str) -> dict[str, str]:
    """The environment of a user's shell in ``cwd``: no RWA_ variables but ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RWA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env | {f"RWA_{key.upper()}": value for key, value in settings.items()}


def rwa(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [RWA, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (
        f"rwa {' '.join(args)}: exit {done.returncode}\n{done.stdout[-2000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return done.stdout


@contextmanager
def served(cwd: Path, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """``rwa serve`` in ``cwd``, healthy; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with api_process([RWA, "serve", "--port", str(port)], base_url, env, cwd, log):
        yield base_url


def _demo_bars(base_url: str, headers: dict[str, str], asset_id: str = "btc") -> int:
    answer = httpx.get(
        f"{base_url}/assets/{asset_id}/ohlcv", params=DEMO_BARS, headers=headers, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["count"])


def _snapshot(base_url: str) -> str:
    """The snapshot a DuckDB-backed server reads now, as /health reports it."""
    detail = str(httpx.get(f"{base_url}/health", timeout=30).json()["detail"])
    return detail.rsplit("snapshot ", 1)[-1]


def _snapshot_after(base_url: str, before: str) -> str:
    """The snapshot /health reports once it is no longer ``before``, or after a few seconds:
    /health answers from a check up to ``CHECK_SECONDS`` old (the hammer read it a moment
    ago), so the first answer after a load may still name the previous snapshot."""
    deadline = time.monotonic() + 10 * CHECK_SECONDS
    while (snapshot := _snapshot(base_url)) == before and time.monotonic() < deadline:
        time.sleep(CHECK_SECONDS / 4)
    return snapshot


def _assert_no_failures(hammer: Hammer, during: str) -> None:
    assert hammer.requests >= len(READS), f"hardly any reads during {during}"
    assert hammer.failures == [], f"{len(hammer.failures)} failed reads during {during}"


# --- the embedded store ------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveDemo:
    cwd: Path
    env: dict[str, str]
    base_url: str
    hammer: Hammer
    #: An enterprise user's access token, accepted by every server on ``env``.
    headers: dict[str, str]
    #: BTC bars of the demo's window the server answered after the demo.
    demo_bars: int


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemo]:
    """A server on a sample store (``data/serving.duckdb``) that kept answering reads while
    the demo built a small lake beside it and loaded it into that store."""
    cwd = tmp_path_factory.mktemp("live")
    sample_duckdb(cwd / "data" / "serving.duckdb")
    credentials = provision(accounts_settings(cwd / "data"))
    env = _env(cwd) | credentials.env()
    headers = credentials.headers
    with served(cwd, env, cwd / "api.log") as base_url:
        assert _demo_bars(base_url, headers) == 0
        with Hammer(base_url, headers).running() as hammer:
            demo_in_process(cwd, env, **DEMO_FLAGS)
        yield LiveDemo(cwd, env, base_url, hammer, headers, _demo_bars(base_url, headers))


def test_demo_loads_while_the_api_serves_and_the_api_serves_its_rows(live_demo: LiveDemo) -> None:
    _assert_no_failures(live_demo.hammer, "the demo")
    # The same server, never restarted; a few simulated bars are faulty and quarantined.
    assert 3 * 24 * 0.8 < live_demo.demo_bars <= 3 * 24
    listed = httpx.get(f"{live_demo.base_url}/assets", headers=live_demo.headers, timeout=30).json()
    assert len(listed) > 3  # the load brought the whole reference catalog


def test_rwa_load_while_the_api_serves(live_demo: LiveDemo) -> None:
    before = _snapshot(live_demo.base_url)
    with Hammer(live_demo.base_url, live_demo.headers).running() as hammer:
        rwa(live_demo.cwd, live_demo.env, "load")
    _assert_no_failures(hammer, "rwa load")
    # it follows the newly published snapshot
    assert _snapshot_after(live_demo.base_url, before) > before
    assert _demo_bars(live_demo.base_url, live_demo.headers) == live_demo.demo_bars


def test_a_server_started_while_a_loader_writes_starts_and_serves(
    live_demo: LiveDemo, tmp_path: Path
) -> None:
    """A loader process holds the store open for writing (as ``rwa load`` does for its whole
    run) while a second server starts; it serves what was published, then the load."""
    script = (
        "import sys\n"
        "from pipelines.core.settings import get_settings\n"
        "from pipelines.reference import load_assets\n"
        "from pipelines.serving import open_store\n"
        "store = open_store(get_settings().serving)\n"
        "btc = next(a for a in load_assets() if a.asset_id == 'btc')\n"
        "store.upsert_assets([btc.model_copy(update={'name': 'Renamed by the loader'})])\n"
        "print('written', flush=True)\n"
        "sys.stdin.readline()\n"
        "store.close()\n"
    )
    loader = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=live_demo.cwd,
        env=live_demo.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert loader.stdin is not None and loader.stdout is not None
    try:
        assert loader.stdout.readline().strip() == "written"
        with served(live_demo.cwd, live_demo.env, tmp_path / "api.log") as base_url:
            btc = httpx.get(f"{base_url}/assets/btc", headers=live_demo.headers, timeout=30)
            assert btc.json()["name"] == "Bitcoin"
            assert _demo_bars(base_url, live_demo.headers) == live_demo.demo_bars
            loader.stdin.write("\n")
            loader.stdin.flush()
            assert loader.wait(COMMAND_TIMEOUT_S) == 0
            btc = httpx.get(f"{base_url}/assets/btc", headers=live_demo.headers, timeout=30)
            renamed = btc.json()["name"]
            assert renamed == "Renamed by the loader"
    finally:
        loader.kill()
        loader.wait()


# --- TimescaleDB -------------------------------------------------------------------------------


def test_rwa_load_while_the_api_serves_timescaledb(
    live_demo: LiveDemo, timescale_admin_dsn: str, tmp_path: Path
) -> None:
    with throwaway_database(timescale_admin_dsn) as dsn:
        with TimescaleStore(dsn) as store:
            store.migrate()
            load_sample(store)
        env = live_demo.env | _env(live_demo.cwd, serving_backend="timescaledb", timescale_dsn=dsn)
        headers = live_demo.headers
        with served(live_demo.cwd, env, tmp_path / "api.log") as base_url:
            assert _demo_bars(base_url, headers) == 0
            with Hammer(base_url, headers).running() as hammer:
                rwa(live_demo.cwd, env, "load")
            _assert_no_failures(hammer, "rwa load into TimescaleDB")
            assert _demo_bars(base_url, headers) == live_demo.demo_bars
