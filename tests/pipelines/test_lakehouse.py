"""The composition root: one lakehouse built from settings holds every shared part."""

from __future__ import annotations

from pathlib import Path

from pipelines.lake.objects import LocalObjectStore
from pipelines.lakehouse import Lakehouse
from pipelines.reference import load_assets, load_catalog
from tests.fixtures.lake import lake_settings


def test_the_parts_follow_the_settings(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    lakehouse = Lakehouse.from_settings(settings)

    assert lakehouse.settings is settings
    assert lakehouse.paths.silver("prices") == settings.lake.uri("silver", "prices")
    assert isinstance(lakehouse.objects, LocalObjectStore)
    assert lakehouse.objects.root == (tmp_path / "lake").resolve()
    assert not lakehouse.delta.exists(lakehouse.paths.silver("prices"))
    assert list(lakehouse.assets) == load_assets()
    assert lakehouse.catalog.version == load_catalog().version


def test_an_s3_lake_gets_the_s3_object_store() -> None:
    lakehouse = Lakehouse.from_settings(lake_settings(Path("/unused"), lake_root="s3://lake/rwa"))
    assert lakehouse.objects.describe().startswith("s3://lake/rwa")
