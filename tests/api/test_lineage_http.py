"""``GET /lineage`` over HTTP: one real server for the module (uvicorn over a DuckDB store loaded
from a copy of the session's streamed lake, plus one forecast of a registered model version), a
paying user and an explorer. The chain itself is checked against the bronze files in
tests/pipelines/test_lineage.py; here, what the route serves and refuses."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from api.accounts.principal import Role
from models.registry import ModelRegistry
from pipelines import steps
from pipelines.contracts.served import PREDICTIONS_SCHEMA
from pipelines.core.settings import Settings
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.lineage import lineage
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.lake import lake_settings
from tests.fixtures.pipeline import END

pytestmark = pytest.mark.slow

DAY = dt.datetime.combine(END - dt.timedelta(days=3), dt.time(), dt.UTC)
#: The forecast: fitted on five daily closes through FITTED, for the target day TARGET.
FITTED = END - dt.timedelta(days=2)
TARGET = FITTED + dt.timedelta(days=3)
GENERATED = dt.datetime.combine(FITTED + dt.timedelta(days=1), dt.time(), dt.UTC)


def _forecast(settings: Settings) -> str:
    """Register a model version fitted through FITTED and write its point for TARGET to
    gold (what ``rwa forecast`` does, without fitting); returns its label."""
    artefact = {"fitted_through": FITTED.isoformat(), "observations": 5, "params": {}}
    saved = ModelRegistry(open_object_store(settings.lake)).save(
        "arima-btc",
        {"model.json": json.dumps(artefact).encode()},
        metrics={"mae": 1.5},
        params={"order": [1, 0, 0]},
        created_at=GENERATED,
    )
    point = {
        "asset_id": "btc",
        "horizon_days": 7,
        "generated_at": GENERATED,
        "model_version": saved.label,
        "target_date": TARGET,
        "value": 61_000.0,
        **dict.fromkeys(("lower_80", "upper_80", "lower_95", "upper_95"), 60_000.0),
    }
    table = pa.Table.from_pylist([point], schema=PREDICTIONS_SCHEMA)
    write_deltalake(LakePaths(settings.lake).gold("predictions"), table)
    return saved.label


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lineage-http")


@pytest.fixture(scope="module")
def lake(streamed: Settings, workdir: Path) -> tuple[Settings, str]:
    """A copy of the streamed lake (the shared one stays read-only) with one forecast, loaded
    into a DuckDB store; and the forecast's model version."""
    settings = lake_settings(workdir)
    shutil.copytree(streamed.lake.root, settings.lake.root)
    label = _forecast(settings)
    steps.run_risk(Lakehouse.from_settings(settings), FITTED)
    steps.load_serving(
        Lakehouse.from_settings(settings), dt.datetime.combine(END, dt.time(), dt.UTC)
    )
    return settings, label


@pytest.fixture(scope="module")
def users(workdir: Path) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(workdir)
    return {role: provision(settings, role) for role in (Role.PROFESSIONAL, Role.EXPLORER)}


@pytest.fixture(scope="module")
def base_url(
    lake: tuple[Settings, str], workdir: Path, users: dict[Role, ApiCredentials]
) -> Iterator[str]:
    settings = lake[0]
    env = {"RWA_LAKE_ROOT": str(settings.lake.root)}
    with running_server(
        settings.serving.duckdb_path, workdir, users[Role.PROFESSIONAL], env=env
    ) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str, users: dict[Role, ApiCredentials]) -> Iterator[httpx.Client]:
    headers = users[Role.PROFESSIONAL].headers
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        yield http


def _ask(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/lineage", params=params)


def test_a_daily_close_is_served_with_its_chain(client: httpx.Client) -> None:
    response = _ask(client, asset="btc", ts=DAY.isoformat(), measure="close", resolution="1d")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["value"] == body["served"]["close"] == body["gold"]["close"]
    assert body["gold_table"] == "gold/ohlcv_1d" and body["run"]["run_id"]
    assert len(body["silver"]) == 24 and all(body["checks"].values())
    first = body["silver"][0]
    assert first["row"]["ingest_id"] == first["bronze"]["ingest_id"]
    assert first["bronze"]["object_key"].startswith("bronze/source=simulated/dataset=prices/")
    assert first["bronze"]["line"] >= 1 and first["bronze"]["element"].startswith("payload[")
    envelope = body["envelopes"][0]["envelope"]
    assert {"source", "endpoint", "params", "fetched_at", "ingest_id", "payload"} <= set(envelope)


def test_a_prediction_names_its_model_version_and_training_window(
    client: httpx.Client, lake: tuple[Settings, str]
) -> None:
    response = _ask(client, asset="btc", ts=TARGET.isoformat(), measure="prediction")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["value"] == 61_000.0 and body["served"]["model_version"] == lake[1]
    model = body["model"]
    assert model["version"] == lake[1] and model["metrics"] == {"mae": 1.5}
    window = model["training_window"]
    assert window["observations"] == 5 and window["last"] == FITTED.isoformat()
    assert window["first"] == (FITTED - dt.timedelta(days=4)).isoformat()
    [closing] = body["inputs"]  # the last close the model saw, traced in full
    assert closing["query"]["measure"] == "close" and len(closing["silver"]) == 24


def test_a_risk_score_names_its_rules_and_window(client: httpx.Client) -> None:
    calculated_at = dt.datetime.combine(FITTED + dt.timedelta(days=1), dt.time(), dt.UTC)
    response = _ask(client, asset="btc", ts=calculated_at.isoformat(), measure="risk_score")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["value"] == body["served"]["composite_score"] == body["gold"]["composite_score"]
    assert body["model"]["version"] == body["served"]["model_version"]
    assert body["model"]["training_window"]["last"] == FITTED.isoformat()
    assert body["inputs"][0]["query"]["ts"].startswith(FITTED.isoformat())


def test_the_python_function_gives_the_answer_the_route_serves(
    client: httpx.Client, lake: tuple[Settings, str]
) -> None:
    answer = lineage("btc", DAY, "close", "1d", settings=lake[0])
    served = _ask(client, asset="btc", ts=DAY.isoformat(), measure="close", resolution="1d")
    body = served.json()
    assert answer.value == body["value"] and answer.run is not None
    assert answer.run.run_id == body["run"]["run_id"]
    assert [r.bronze.element for r in answer.silver] == [
        r["bronze"]["element"] for r in body["silver"]
    ]


def test_what_the_route_refuses(client: httpx.Client, base_url: str, users: Any) -> None:
    good = {"asset": "btc", "ts": DAY.isoformat(), "measure": "close", "resolution": "1d"}
    assert httpx.get(f"{base_url}/lineage", params=good).status_code == 401
    explorer = httpx.get(f"{base_url}/lineage", params=good, headers=users[Role.EXPLORER].headers)
    assert explorer.status_code == 403 and "professional" in explorer.json()["detail"]
    for change, field in (
        ({"measure": "closing"}, "measure"),
        ({"resolution": "1w"}, "resolution"),
        ({"resolution": "../../etc/passwd"}, "resolution"),
        ({"ts": "yesterday"}, "ts"),
        ({"asset": "x" * 65}, "asset"),
    ):
        refused = _ask(client, **(good | change))
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["query", field]
    feature = _ask(client, **{k: v for k, v in good.items() if k != "resolution"})
    assert feature.status_code == 200 and feature.json()["gold_table"] == "gold/features_daily"
    for change in (
        {"asset": "nope"},
        {"asset": "../../../etc/passwd"},
        {"ts": "2026-02-26T00:07:00Z"},
        {"ts": "1999-01-01T00:00:00Z"},
    ):
        missing = _ask(client, **(good | change))
        assert missing.status_code == 404, (change, missing.text)
        assert missing.json()["detail"]
