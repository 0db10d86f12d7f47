"""End to end, as a user runs it: `rwa demo` twice, then `rwa serve` answering over HTTP.

The first demo runs as the user's command (a process of its own); the rerun, which checks that
a second demo over the same window changes nothing, and the backfill of the demo's days run the
same commands in this process: they share the suite's Spark session and imports instead of
paying a process start-up (a JVM, Spark's first queries) again. The quants' notebooks run here
too, on this demo's data and one `rwa serve` shared with the API test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.demo import demo_in_process, rwa_in_process
from tests.fixtures.notebooks import NOTEBOOKS, run_notebook
from tests.fixtures.processes import free_port, http_ok, running

ASSETS = ["btc", "usdc", "ousg", "buidl", "paxg", "realt-4680-buckingham", "syrupusdc"]
#: Enough daily history for the forecasts (30 days at least).
DAYS = 35
END = dt.date(2026, 6, 1)
RWA = str(Path(sys.executable).with_name("rwa"))


def rwa(cwd: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RWA_")}
    done = subprocess.run(
        [RWA, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


#: What `rwa demo` ends with: a ready API key.
DEMO_KEY = re.compile(r"^  export RWA_API_KEY=(rwa_\S+)$", re.MULTILINE)
#: ... and the dashboard's login.
DEMO_LOGIN = re.compile(r"log in as (\S+) with\n  password (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """`rwa demo` twice in one folder: the folder and both runs' output."""
    cwd = tmp_path_factory.mktemp("demo")
    args = ("demo", "--days", str(DAYS), "--end", str(END), "--assets", ",".join(ASSETS))
    first = rwa(cwd, *args)
    silver = re.search(r"silver +prices ([\d,]+), quarantine ([\d,]+)", first)
    assert silver is not None, first
    valid, quarantined = (int(n.replace(",", "")) for n in silver.groups())
    assert valid + quarantined == len(ASSETS) * DAYS * 24  # every simulated bar is accounted for
    second = demo_in_process(cwd, sim_days=DAYS, sim_end=END, sim_assets=ASSETS)
    assert "0 envelopes in 0 new objects" in second
    assert "0 inserted, 0 updated" in second
    return cwd, first, second


@pytest.fixture(scope="module")
def demo_dir(demo_runs: tuple[Path, str, str]) -> Path:
    return demo_runs[0]


@pytest.fixture(scope="module")
def demo_keys(demo_runs: tuple[Path, str, str]) -> tuple[str, str]:
    """The keys the two demo runs printed (the second revoked the first)."""
    keys = [DEMO_KEY.search(output) for output in demo_runs[1:]]
    assert all(keys), demo_runs[2][-1000:]
    first, second = (match.group(1) for match in keys if match)
    return first, second


def test_demo_fills_every_layer(demo_dir: Path) -> None:
    assert (demo_dir / "data/lake/bronze").is_dir()
    for table in ("silver/prices", "silver/quarantine", "gold/ohlcv_1h", "gold/ohlcv_1d"):
        assert (demo_dir / "data/lake" / table / "_delta_log").is_dir(), table
    assert (demo_dir / "data/serving.duckdb").is_file()


def test_backfill_of_demo_days_reprocesses_them_and_adds_nothing(demo_dir: Path) -> None:
    # In this process, like the demo rerun (the first demo tested the command as a process).
    out = rwa_in_process(demo_dir, "backfill", "--first", "2026-05-29", "--last", "2026-06-01")
    assert "backfill of bronze fetched 2026-05-29..2026-06-01:" in out
    for dataset in ("prices", "onchain", "economic", "news", "transfers"):
        line = next(line for line in out.splitlines() if line.startswith(f"silver {dataset}:"))
        assert " 0 inserted," in line, line
    assert re.search(r"gold \(\d{4}-\d\d-\d\d\.\.2026-05-31\) ohlcv_1m", out), out
    assert "serving store (duckdb):" in out


@pytest.mark.parametrize("notebook", ["01_lake_tour", "02_forecasting", "03_risk_and_backtests"])
def test_notebook_runs_on_the_demo_data(notebook: str, demo_dir: Path) -> None:
    """Top to bottom, as after `rwa demo` in a fresh clone: a cell that raises fails the test
    (nbclient's error names the cell and its traceback)."""
    executed, seconds = run_notebook(NOTEBOOKS / f"{notebook}.ipynb", demo_dir)
    print(f"{notebook}: {seconds:.1f} s")
    errors = [
        output
        for cell in executed.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    # every code cell ran, and the plots were drawn
    images = sum(
        "image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])
    )
    assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code")
    assert images >= 1


@pytest.fixture(scope="module")
def demo_server(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rwa serve` on the demo's data, as a user starts it (no RWA_* settings): its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RWA_")}
    log = tmp_path_factory.mktemp("serve") / "api.log"
    url = f"http://127.0.0.1:{port}"
    command = [RWA, "serve", "--port", str(port)]
    with running(command, port, log, env=env, cwd=demo_dir, ready=http_ok(f"{url}/health")):
        yield url


def test_served_daily_bars_agree_with_hourly_bars(
    demo_runs: tuple[Path, str, str], demo_keys: tuple[str, str], demo_server: str
) -> None:
    demo_runs_output = demo_runs[2]  # the second run's login is the current one
    with httpx.Client(base_url=demo_server, timeout=30) as client:
        assert client.get("/health").json()["store_ok"] is True
        assert client.get("/assets").status_code == 401
        # The key the demo printed works at once; the rerun revoked the first run's key.
        revoked, demo_key = demo_keys
        assert client.get("/assets/btc", headers={"X-API-Key": revoked}).status_code == 401
        btc = client.get("/assets/btc", headers={"Authorization": f"Bearer {demo_key}"})
        assert btc.status_code == 200, btc.text
        client.headers["Authorization"] = f"Bearer {_log_in(demo_runs_output, client)}"
        listed = {asset["asset_id"] for asset in client.get("/assets").json()}
        assert set(ASSETS) <= listed and len(listed) >= 20
        risk = client.get("/risk", params={"limit": 500}).json()
        assert risk["total"] == len(listed)  # every reference asset is scored
        scored_days = [
            day
            for asset_id in ASSETS
            for day in client.get(f"/assets/{asset_id}/sentiment").json()["days"]
        ]
        assert scored_days and all(day["model_version"] for day in scored_days)
        assert all(-1 <= day["sentiment_score"] <= 1 for day in scored_days)
        for asset_id in ASSETS:
            for horizon in (7, 30):
                forecast = client.get(
                    f"/assets/{asset_id}/predictions", params={"horizon": horizon}
                ).json()
                assert len(forecast["predictions"]) == horizon, (asset_id, forecast)
                point = forecast["predictions"][-1]
                assert point["lower_95"] <= point["value"] <= point["upper_95"]
            scored = client.get(f"/assets/{asset_id}/risk").json()
            assert 1 <= scored["composite_score"] <= 100 and scored["top_factors"]
            hourly = client.get(f"/assets/{asset_id}/ohlcv", params={"interval": "1h"})
            daily = client.get(f"/assets/{asset_id}/ohlcv", params={"interval": "1d"})
            assert hourly.status_code == daily.status_code == 200
            assert_daily_matches_hourly(hourly.json()["bars"], daily.json()["bars"])


def _log_in(output: str, client: httpx.Client) -> str:
    """What an analyst does after the demo: log in with the login it printed (the dashboard's
    first step too); the access token."""
    email, password = _demo_login(output)
    login = client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def _demo_login(output: str) -> tuple[str, str]:
    printed = DEMO_LOGIN.search(output)
    assert printed is not None, output[-1000:]
    email, password = printed.groups()
    return email, password


def assert_daily_matches_hourly(hourly: list[dict], daily: list[dict]) -> None:
    by_day: dict[str, list[dict]] = defaultdict(list)
    for bar in hourly:
        by_day[bar["ts"][:10]].append(bar)
    assert [bar["ts"][:10] for bar in daily] == sorted(by_day)
    for bar in daily:
        hours = sorted(by_day[bar["ts"][:10]], key=lambda b: b["ts"])
        assert bar["open"] == hours[0]["open"]
        assert bar["close"] == hours[-1]["close"]
        assert bar["high"] == max(h["high"] for h in hours)
        assert bar["low"] == min(h["low"] for h in hours)
        assert bar["volume"] == pytest.approx(sum(h["volume"] for h in hours), rel=1e-9)


def test_api_client_notebook_against_rwa_serve(
    demo_runs: tuple[Path, str, str], demo_server: str
) -> None:
    """The client notebook logs in with the login the demo printed and reads the demo's
    server; the URL and the login come from the variables the notebook documents."""
    email, password = _demo_login(demo_runs[2])
    env = {"RWA_API_URL": demo_server, "RWA_API_EMAIL": email, "RWA_API_PASSWORD": password}
    executed, seconds = run_notebook(NOTEBOOKS / "04_api_client.ipynb", demo_runs[0], env)
    print(f"04_api_client: {seconds:.1f} s")
    text = "".join(
        output.get("text", "") for cell in executed.cells for output in cell.get("outputs", [])
    )
    assert "NotFoundError (404)" in text and "silver records" in text
