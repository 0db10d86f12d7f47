"""The model registry on a local lake and on the S3 protocol (moto server): versions are
immutable, listed only once complete, and load back byte for byte."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dagster_project.resources import ModelStoreResource
from models.registry import ModelRegistry
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings
from pipelines.lake.objects import LocalObjectStore, ObjectStore, open_object_store
from pipelines.lakehouse import Lakehouse
from tests.fixtures.lake import lake_settings
from tests.fixtures.s3 import S3Server

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path)
    server: S3Server = request.getfixturevalue("s3_server")
    settings = Settings(**server.settings_overrides(server.create_bucket()))
    return open_object_store(settings.lake)


def test_versions_save_list_and_load(store: ObjectStore) -> None:
    registry = ModelRegistry(store)
    first = registry.save(
        "arima-btc", {"model.pkl": b"\x00weights-1", "config.json": b"{}"}, metrics={"mase": 0.91}
    )
    second = registry.save(
        "arima-btc",
        {"model.pkl": b"\x00weights-2", "config.json": b"{}"},
        metrics={"mase": 0.87},
        params={"order": [1, 1, 1]},
        created_at=first.created_at + dt.timedelta(days=7),
    )

    assert [v.version for v in registry.versions("arima-btc")] == [first.version, second.version]
    latest = registry.latest("arima-btc")
    assert latest == second
    assert latest is not None and latest.metrics == {"mase": 0.87}
    assert latest.params == {"order": [1, 1, 1]}
    assert registry.load(latest, "model.pkl") == b"\x00weights-2"
    assert latest.label.startswith("arima-btc@")
    assert registry.latest("lstm-btc") is None


def test_a_half_saved_version_is_invisible(store: ObjectStore) -> None:
    registry = ModelRegistry(store)
    store.put_if_absent("models/lstm/20260301T000000Z-abc/model.pt", b"partial")  # no manifest
    assert registry.versions("lstm") == []


def test_same_files_same_second_are_one_version(tmp_path: Path) -> None:
    registry = ModelRegistry(LocalObjectStore(tmp_path))
    one = registry.save("m", {"w": b"1"}, created_at=T0)
    again = registry.save("m", {"w": b"1"}, created_at=T0)
    assert one.version == again.version and len(registry.versions("m")) == 1


def test_bad_names_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    registry = ModelRegistry(LocalObjectStore(tmp_path))
    with pytest.raises(ValueError, match="not a usable model or file name"):
        registry.save("../escape", {"w": b"1"})
    with pytest.raises(ValueError, match="needs at least one file"):
        registry.save("m", {})
    saved = registry.save("m", {"w": b"1"})
    with pytest.raises(NotFoundError, match="has no file 'x'"):
        registry.load(saved, "x")


def test_the_dagster_model_store_follows_the_lake(tmp_path: Path) -> None:
    lakehouse = Lakehouse.from_settings(lake_settings(tmp_path))
    registry = ModelStoreResource(lakehouse=lakehouse).registry()
    registry.save("risk", {"weights.json": b"{}"})
    assert (tmp_path / "lake" / "models" / "risk").is_dir()
