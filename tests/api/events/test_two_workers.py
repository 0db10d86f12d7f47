"""Issue 14's "done when": a WebSocket client connected to a second API worker receives the
``price_update`` and the ``alert_triggered`` that an ``rwa load`` of new bars causes, the load
running as a process of its own.

Two ``rwa serve`` processes (two API workers, each with its own fan-out) share one operational
database on PostgreSQL (their workers woken by LISTEN/NOTIFY) and one DuckDB serving store. A
user's rule ("USDC below 0.995") is created through the first; the client listens on the
second; ``rwa load`` then loads a lake (gold hourly bars written here with delta-rs: no Spark)
whose USDC bars end at 0.99. The after-load hook publishes the new price and evaluates the
rule: both reach the client, and within the issue's two seconds of the load's end on an idle
machine (asserted with room for a loaded one).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from api.accounts.principal import Role
from api.events.bus import EventType
from pipelines.contracts.served import OHLCV_SCHEMA
from pipelines.core.settings import Settings
from pipelines.lake.paths import LakePaths
from tests.api.accounts.conftest import sqlalchemy_url
from tests.api.events.streams import RECEIVE_SECONDS, next_event, ws_client
from tests.api.live_server import REPO_ROOT
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.processes import free_port, http_ok, running, wait_until_ready
from tests.fixtures.sample_data import T0, sample_duckdb
from tests.fixtures.timescaledb import throwaway_database

RWA = str(Path(sys.executable).with_name("rwa"))
LOAD_TIMEOUT_S = 300
#: USDC's hourly closes in the lake: the last one below the rule's level.
USDC_CLOSES = (1.0, 0.999, 0.99)


@dataclass(frozen=True)
class Workers:
    first: str
    second: str
    cwd: Path
    env: dict[str, str]
    alice: ApiCredentials


def _gold_bars(asset_id: str, closes: tuple[float, ...], start: dt.datetime) -> pa.Table:
    """``gold/ohlcv_1h`` rows (the served columns plus what gold adds) with these closes."""
    n = len(closes)
    rows = pa.Table.from_pylist(
        [
            {
                "asset_id": asset_id,
                "resolution": "1h",
                "ts": start + dt.timedelta(hours=i),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": 1000.0,
            }
            for i, close in enumerate(closes)
        ],
        schema=OHLCV_SCHEMA,
    )
    extra = {"trades": pa.array([7] * n, pa.int64()), "source_bars": pa.array([1] * n, pa.int64())}
    for name, column in extra.items():
        rows = rows.append_column(name, column)
    return rows.append_column("date", pc.cast(rows.column("ts"), pa.date32()))


def _env(cwd: Path, alice: ApiCredentials) -> dict[str, str]:
    """A user's shell in ``cwd``: no RWA_ variables but these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RWA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return (
        env
        | alice.env()
        | {
            "RWA_SERVING_BACKEND": "duckdb",
            "RWA_DUCKDB_PATH": str(cwd / "serving.duckdb"),
            "RWA_LAKE_ROOT": str(cwd / "lake"),
        }
    )


@pytest.fixture(scope="module")
def workers(
    timescale_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    cwd = tmp_path_factory.mktemp("two_workers")
    sample_duckdb(cwd / "serving.duckdb")  # served before the load: OUSG and BTC, no USDC
    with ExitStack() as stack:
        dsn = stack.enter_context(throwaway_database(timescale_admin_dsn, prefix="rwa_push"))
        alice = provision(accounts_settings(cwd, sqlalchemy_url(dsn)), Role.ENTERPRISE)
        env = _env(cwd, alice)
        started = []
        for name in ("first", "second"):  # both start at once, then each is waited for
            port = free_port()
            argv, log = [RWA, "serve", "--port", str(port)], cwd / f"{name}.log"
            process = stack.enter_context(running(argv, None, log, env, cwd, lambda: True))
            started.append((f"http://127.0.0.1:{port}", process, log))
        for url, process, log in started:
            wait_until_ready(http_ok(f"{url}/health"), process, log=log)
        yield Workers(started[0][0], started[1][0], cwd, env, alice)


def test_a_load_in_another_process_reaches_a_client_of_the_second_worker(
    workers: Workers,
) -> None:
    rule = {
        "name": "USDC wobble",
        "target": {"kind": "asset", "asset_id": "usdc"},
        "condition": {"kind": "price", "direction": "below", "level": 0.995},
        "channels": [],
    }
    created = httpx.post(
        f"{workers.first}/alerts/rules", json=rule, headers=workers.alice.headers, timeout=60
    )
    assert created.status_code == 201, created.text
    paths = LakePaths(Settings(lake_root=str(workers.cwd / "lake")).lake)
    newest = T0 + dt.timedelta(days=30)
    write_deltalake(paths.gold("ohlcv_1h"), _gold_bars("usdc", USDC_CLOSES, newest))
    query = "types=price_update,alert_triggered"
    with ws_client(workers.second, headers=workers.alice.headers, query=query) as client:
        assert next_event(client)["type"] == "subscriptions"
        load = subprocess.run(
            [RWA, "load"],
            cwd=workers.cwd,
            env=workers.env,
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT_S,
            check=False,
        )
        loaded = time.monotonic()
        assert load.returncode == 0, load.stdout[-2000:] + load.stderr[-3000:]
        received = {}
        while len(received) < 2:
            message = next_event(client, RECEIVE_SECONDS)
            if message["type"] == EventType.ALERT_TRIGGERED or (
                message["payload"].get("asset_id") == "usdc"
            ):
                received[message["type"]] = (message, time.monotonic() - loaded)
    price, price_after = received[EventType.PRICE_UPDATE]
    assert price["payload"]["price"] == USDC_CLOSES[-1]
    assert price["payload"]["resolution"] == "1h"
    assert price["ts"].startswith((newest + dt.timedelta(hours=2)).isoformat()[:19])
    alert, alert_after = received[EventType.ALERT_TRIGGERED]
    assert alert["payload"]["rule_id"] == created.json()["id"]
    # Two seconds from commit to client is the target; the load's exit follows its commit.
    assert max(price_after, alert_after) < 10, (price_after, alert_after)
