"""Both object stores keep bronze objects immutable: the contract runs on a folder and on S3."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.core.settings import Settings
from pipelines.lake import objects
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


@pytest.mark.parametrize("key", ["../outside.jsonl", "a/../../outside.jsonl", "/tmp/abs.jsonl"])
def test_local_store_refuses_keys_outside_its_root(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    for call in (lambda: store.put_if_absent(key, b"x"), lambda: store.get(key)):
        with pytest.raises(ValueError, match="escapes the store root"):
            call()
    assert not (tmp_path / "outside.jsonl").exists()


def test_s3_lake_root_without_bucket_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a bucket"):
        Settings(lake_root="s3://")


# -- durability of put_many_if_absent: syncfs (Linux >= 5.8) or per-file fsync ------------------

needs_syncfs = pytest.mark.skipif(not objects.syncfs_available(), reason="no syncfs here")
DURABILITY = [pytest.param(True, marks=needs_syncfs, id="syncfs"), pytest.param(False, id="fsync")]


def many(count: int) -> dict[str, bytes]:
    """Objects in new nested folders, as a lander's flush writes them."""
    return {
        f"bronze/source=s/dataset=d{i % 3}/date=2026-01-{i % 28 + 1:02d}/o{i}.jsonl": (
            f"line {i}\n".encode() * (i + 1)
        )
        for i in range(count)
    }


def syncfs_store(root: Path) -> LocalObjectStore:
    """A store that takes the syncfs path (skips where ``root``'s file system is not one whose
    syncfs is trusted, e.g. overlayfs in a container)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY)
    try:
        if objects._file_system_type(fd) not in objects.SYNCFS_FILE_SYSTEMS:
            pytest.skip("the temp folder's file system takes the fsync path")
    finally:
        os.close(fd)
    return LocalObjectStore(root, use_syncfs=True)


def hidden_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


@dataclass
class SyncCalls:
    syncfs: list[int] = field(default_factory=list)
    fsync: list[int] = field(default_factory=list)
    #: syncfs calls (1-based) that fail with EIO
    failing: set[int] = field(default_factory=set)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> SyncCalls:
    """Counts syncfs and fsync calls; syncfs calls listed in ``failing`` fail like libc's."""
    seen = SyncCalls()
    real_syncfs, real_fsync = objects._SYNCFS, os.fsync

    def fake_syncfs(fd: int) -> int:
        seen.syncfs.append(fd)
        if len(seen.syncfs) in seen.failing:
            ctypes.set_errno(errno.EIO)
            return -1
        return real_syncfs(fd) if real_syncfs is not None else 0

    def counting_fsync(fd: int) -> None:
        seen.fsync.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(objects, "_SYNCFS", fake_syncfs)
    monkeypatch.setattr(objects.os, "fsync", counting_fsync)
    return seen


@pytest.mark.parametrize("use_syncfs", DURABILITY)
def test_put_many_lands_every_object_complete_and_only_once(
    tmp_path: Path, use_syncfs: bool
) -> None:
    store = LocalObjectStore(tmp_path, use_syncfs=use_syncfs)
    batch = many(60)
    assert store.put_many_if_absent(batch) == dict.fromkeys(batch, True)
    assert {key: store.get(key) for key in store.list("bronze")} == batch
    assert hidden_files(tmp_path) == []
    again = {key: b"other\n" for key in batch} | {"bronze/new/o.jsonl": b"new\n"}
    assert store.put_many_if_absent(again) == dict.fromkeys(batch, False) | {
        "bronze/new/o.jsonl": True
    }
    assert store.get(next(iter(batch))) == batch[next(iter(batch))]


@needs_syncfs
def test_syncfs_path_syncs_twice_per_call_and_fsyncs_nothing(
    tmp_path: Path, calls: SyncCalls
) -> None:
    store = syncfs_store(tmp_path)
    store.put_many_if_absent(many(40))
    assert len(calls.syncfs) == 2  # temp files durable, then the links and folders
    assert calls.fsync == []


@needs_syncfs
def test_failing_syncfs_raises_and_leaves_no_visible_object(
    tmp_path: Path, calls: SyncCalls
) -> None:
    """The first syncfs (temp files) fails: nothing is linked, no temp file stays behind."""
    calls.failing = {1}
    store = syncfs_store(tmp_path)
    with pytest.raises(OSError, match="syncfs failed") as failure:
        store.put_many_if_absent(many(10))
    assert failure.value.errno == errno.EIO
    assert list(store.list("")) == []
    assert hidden_files(tmp_path) == []
    # The next call (a replay after the error) lands everything.
    assert all(store.put_many_if_absent(many(10)).values())


@needs_syncfs
def test_failing_second_syncfs_raises_after_complete_objects_were_linked(
    tmp_path: Path, calls: SyncCalls
) -> None:
    """The links' syncfs fails: the call raises (the lander commits nothing); what is visible
    is complete, so a replay finds it present with the same bytes."""
    calls.failing = {2}
    store = syncfs_store(tmp_path)
    with pytest.raises(OSError, match="syncfs failed"):
        store.put_many_if_absent(many(10))
    assert {key: store.get(key) for key in store.list("")} == many(10)
    assert store.put_many_if_absent(many(10)) == dict.fromkeys(many(10), False)


def test_without_syncfs_the_store_fsyncs_each_file_and_folder(
    tmp_path: Path, calls: SyncCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects, "_SYNCFS", None)
    assert not objects.syncfs_available()
    with pytest.raises(ValueError, match="syncfs is not available"):
        LocalObjectStore(tmp_path, use_syncfs=True)
    store = LocalObjectStore(tmp_path)  # the default falls back to fsync
    assert store.use_syncfs is False
    batch = many(12)
    assert all(store.put_many_if_absent(batch).values())
    assert {key: store.get(key) for key in store.list("")} == batch
    assert calls.syncfs == []
    assert len(calls.fsync) >= len(batch) + 1  # each temp file, then each changed folder


@pytest.mark.parametrize(("release", "usable"), [("5.4.0-150-generic", False), ("5.8.0", True)])
def test_syncfs_needs_a_kernel_that_reports_writeback_errors(
    monkeypatch: pytest.MonkeyPatch, release: str, usable: bool
) -> None:
    if usable and not objects.syncfs_available():
        pytest.skip("no syncfs in this C library")
    monkeypatch.setattr(objects.sys, "platform", "linux")
    monkeypatch.setattr(objects.platform, "release", lambda: release)
    assert (objects._linux_libc() is not None) is usable


@needs_syncfs
def test_file_systems_whose_syncfs_is_not_trusted_are_fsynced(
    tmp_path: Path, calls: SyncCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NFS, FUSE, overlayfs...: syncfs may do less there than fsync, so the store fsyncs."""
    store = LocalObjectStore(tmp_path, use_syncfs=True)
    monkeypatch.setattr(objects, "_file_system_type", lambda fd: 0x6969)  # NFS
    batch = many(8)
    assert all(store.put_many_if_absent(batch).values())
    assert {key: store.get(key) for key in store.list("")} == batch
    assert calls.syncfs == []
    assert len(calls.fsync) >= len(batch) + 1


@needs_syncfs
def test_on_an_untrusted_file_system_every_folder_gaining_an_entry_is_fsynced(
    tmp_path: Path, calls: SyncCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision comes before any folder is created: the new folders' parents (which gained
    them) are fsynced too, or a crash could lose a folder and the objects in it."""
    store = LocalObjectStore(tmp_path, use_syncfs=True)
    monkeypatch.setattr(objects, "_file_system_type", lambda fd: 0x6969)  # NFS
    synced: list[Path] = []
    monkeypatch.setattr(objects, "_fsync_dir", synced.append)
    assert store.put_many_if_absent({"a/b/c/object.jsonl": b"x"}) == {"a/b/c/object.jsonl": True}
    assert set(synced) == {tmp_path, tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a/b/c"}
    assert calls.syncfs == []


def refusing_renameat2(dir_fd: int, old: bytes, new_dir_fd: int, new: bytes, flags: int) -> int:
    """A ``renameat2`` whose file system does not know ``RENAME_NOREPLACE`` (as libc's)."""
    ctypes.set_errno(errno.EINVAL)
    return -1


@needs_syncfs
@pytest.mark.parametrize("renameat2", ["libc", "missing", "refused"])
def test_syncfs_path_moves_into_place_without_replacing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renameat2: str
) -> None:
    """Objects move into place with renameat2(RENAME_NOREPLACE), or with a hard link and an
    unlink where libc or the file system lacks it: either way an object already there keeps
    its bytes, reads as not written, and no temp file stays behind."""
    if renameat2 == "missing":
        monkeypatch.setattr(objects, "_RENAMEAT2", None)
    elif renameat2 == "refused":
        monkeypatch.setattr(objects, "_RENAMEAT2", refusing_renameat2)
    elif objects._RENAMEAT2 is None:
        pytest.skip("no renameat2 in this C library")
    store = syncfs_store(tmp_path)
    batch = many(30)
    assert store.put_many_if_absent(dict(list(batch.items())[:10])) == dict.fromkeys(
        list(batch)[:10], True
    )
    again = {key: b"other\n" for key in batch}
    assert store.put_many_if_absent(again) == {key: i >= 10 for i, key in enumerate(batch)}
    assert {key: store.get(key) for key in list(batch)[:10]} == dict(list(batch.items())[:10])
    assert sorted(store.list("")) == sorted(batch)
    assert hidden_files(tmp_path) == []


@pytest.mark.parametrize("use_syncfs", DURABILITY)
def test_keys_are_normalised_as_text_inside_the_root(tmp_path: Path, use_syncfs: bool) -> None:
    """``a/../b//c/./o`` names ``b/c/o``; a store whose root does not exist yet creates it
    with the object's folders."""
    store = LocalObjectStore(tmp_path / "new" / "lake", use_syncfs=use_syncfs)
    assert store.put_many_if_absent({"a/../b//c/./o.jsonl": b"x\n", "top.jsonl": b"y\n"}) == {
        "a/../b//c/./o.jsonl": True,
        "top.jsonl": True,
    }
    assert store.get("b/c/o.jsonl") == b"x\n"
    assert sorted(store.list("")) == ["b/c/o.jsonl", "top.jsonl"]
    assert store.put_if_absent("b/c/../c/o.jsonl", b"other\n") is False


@pytest.mark.parametrize("use_syncfs", DURABILITY)
def test_keys_that_name_one_object_twice_are_refused_before_any_write(
    tmp_path: Path, use_syncfs: bool
) -> None:
    store = LocalObjectStore(tmp_path, use_syncfs=use_syncfs)
    with pytest.raises(ValueError, match="name the same object"):
        store.put_many_if_absent({"a/b.jsonl": b"x\n", "a//b.jsonl": b"y\n"})
    assert list(store.list("")) == []
