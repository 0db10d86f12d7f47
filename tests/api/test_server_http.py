"""The API as users run it: a real uvicorn process on loopback, real HTTP, a DuckDB file.

Two launchers are covered: uvicorn's own CLI with the factory, and :func:`api.server.run`
(what ``rwa serve`` calls). Both read the store location from ``RWA_*`` variables only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server, uvicorn_cli
from tests.fixtures.accounts import ApiCredentials
from tests.fixtures.sample_data import HOURS, T0, sample_duckdb
from tests.fixtures.serving import DAYS_OF_SERIES, load_series

pytestmark = pytest.mark.slow

LAUNCHERS = {
    "uvicorn-cli": uvicorn_cli,
    "api.server.run": lambda port: [
        "-c",
        "from api.server import run; from pipelines.core.settings import get_settings; "
        "settings = get_settings(); run(settings.api, settings.serving)",
    ],
}


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    path = sample_duckdb(tmp_path / "serving.duckdb")
    with DuckDBStore(path) as store:
        load_series(store)
    return path


@pytest.fixture(params=sorted(LAUNCHERS))
def server(
    request: pytest.FixtureRequest,
    duckdb_file: Path,
    tmp_path: Path,
    api_credentials: ApiCredentials,
) -> Iterator[str]:
    """Base URL of a running server; the process is terminated at teardown."""
    launcher = LAUNCHERS[request.param]
    with running_server(duckdb_file, tmp_path, api_credentials, launcher) as base_url:
        yield base_url


def test_real_server_serves_the_duckdb_store(
    server: str, duckdb_file: Path, api_credentials: ApiCredentials
) -> None:
    assert httpx.get(f"{server}/assets", timeout=10).status_code == 401
    with httpx.Client(base_url=server, timeout=10, headers=api_credentials.headers) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["store_backend"] == "duckdb"
        assert health.json()["status"] == "ok"

        assets = http.get("/assets")
        assert assets.status_code == 200
        assert assets.headers["content-type"] == "application/json"
        assert [a["asset_id"] for a in assets.json()] == ["btc", "ousg", "usdc"]

        detail = http.get("/assets/ousg")
        assert detail.status_code == 200
        assert detail.json()["issuer_name"] == "Ondo Finance"

        ohlcv = http.get(
            "/assets/ousg/ohlcv",
            params={"interval": "1h", "start": "2024-01-02T22:00:00+00:00", "limit": 10},
        )
        assert ohlcv.status_code == 200
        body = ohlcv.json()
        assert body["count"] == 2
        stamps = [dt.datetime.fromisoformat(bar["ts"]) for bar in body["bars"]]
        assert stamps == [T0 + dt.timedelta(hours=h) for h in (HOURS - 2, HOURS - 1)]
        assert all(bar["ts"].endswith(("Z", "+00:00")) for bar in body["bars"])

        missing = http.get("/assets/xyz/ohlcv")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "asset 'xyz' not found"}

        invalid = http.get("/assets/ousg/ohlcv", params={"resolution": "15m"})
        assert invalid.status_code == 422
        assert "'1d' or '1w'" in invalid.json()["detail"][0]["msg"]

        weekly = http.get("/assets/btc/ohlcv", params={"resolution": "1w"})
        assert weekly.status_code == 200
        assert weekly.json()["count"] == 1
        minutes = http.get("/assets/ousg/ohlcv", params={"resolution": "1m", "limit": 5})
        assert minutes.json()["count"] == 5

        onchain = http.get("/assets/ousg/onchain", params={"start": "2024-01-02"})
        assert onchain.status_code == 200
        assert onchain.json()["count"] == DAYS_OF_SERIES - 1
        features = http.get("/assets/ousg/features", params={"limit": 3})
        assert [day["ts"][:10] for day in features.json()["features"]] == [
            "2024-01-18",
            "2024-01-19",
            "2024-01-20",
        ]
        assert http.get("/assets/xyz/features").status_code == 404

        macro = http.get("/economic/DGS10")
        assert macro.status_code == 200
        assert (macro.json()["region"], macro.json()["count"]) == ("USA", 5)
        assert http.get("/economic/CPI").status_code == 300
        assert http.get("/economic/NOPE").status_code == 404

        docs = http.get("/openapi.json")
        assert docs.status_code == 200
        assert "/assets/{asset_id}/ohlcv" in docs.json()["paths"]

    # The server holds the file read-only (a shared lock): other readers still get in.
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM assets").fetchone() == (3,)
