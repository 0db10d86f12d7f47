"""Both object stores keep bronze objects immutable: the contract runs on a folder and on S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.core.settings import Settings
from pipelines.lake.objects import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    open_object_store,
)
from tests.fixtures.s3 import S3Server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "lake")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    settings = Settings(**server.settings_overrides(server.create_bucket()))
    s3 = open_object_store(settings.lake)
    assert isinstance(s3, S3ObjectStore)
    yield s3


def test_put_if_absent_never_replaces(store: ObjectStore) -> None:
    assert store.put_if_absent("bronze/a/x.jsonl", b"first\n") is True
    assert store.put_if_absent("bronze/a/x.jsonl", b"second\n") is False
    assert store.get("bronze/a/x.jsonl") == b"first\n"
    assert store.exists("bronze/a/x.jsonl")
    assert not store.exists("bronze/a/missing.jsonl")


def test_list_is_sorted_and_skips_hidden_names(store: ObjectStore) -> None:
    for key in ("bronze/b/2.jsonl", "bronze/a/1.jsonl", "bronze/a/.tmp-partial", "other/z.jsonl"):
        store.put_if_absent(key, b"x\n")
    assert list(store.list("bronze")) == ["bronze/a/1.jsonl", "bronze/b/2.jsonl"]


def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put_if_absent("bronze/p/o.jsonl", b"data\n")
    store.put_if_absent("bronze/p/o.jsonl", b"other\n")
    assert sorted(p.name for p in (tmp_path / "bronze/p").iterdir()) == ["o.jsonl"]


def test_local_store_refuses_keys_outside_its_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes the store root"):
        LocalObjectStore(tmp_path / "lake").put_if_absent("../outside.jsonl", b"x")


def test_s3_lake_root_without_bucket_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a bucket"):
        Settings(lake_root="s3://")
