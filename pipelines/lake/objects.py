"""Object stores for the lake: a local folder (default) or S3.

Bronze objects are immutable: :meth:`ObjectStore.put_if_absent` never replaces an existing
object, and an object becomes visible only when complete and durable (local: written under a
hidden name, made durable, then moved or hard-linked into place without replacing; S3: a
conditional ``PUT`` with ``If-None-Match: *``).

:meth:`ObjectStore.put_many_if_absent` writes many objects with the same guarantees and pays
the durability wait once per call instead of once per object:

* **Local, Linux (``syncfs``)**: every temp file is written without an fsync, then one
  ``syncfs(2)`` on the store's file system makes them durable, then they are moved into place
  without replacing (``renameat2(RENAME_NOREPLACE)``, or a hard link and an unlink where that
  is missing), then a second ``syncfs`` makes the new directory entries durable. Objects are
  created, written and moved relative to one descriptor of the store's root, so an object
  costs a create, a write, a close and a rename (no ``stat``, no folder opened for it, no path
  handling in ``pathlib``); a missing folder is created when the first create in it fails; an
  object already present is found by the refused rename, and its temp file is removed.
  ``syncfs`` writes back all dirty data and metadata of the file system that holds the
  descriptor and waits for it (on ext4/xfs it also commits the journal and flushes the device
  cache, as ``fsync`` does), so after the first call every temp file is as durable as if each
  had been fsynced, and after the second every new entry and every folder created for it is
  as durable as if each folder had been fsynced: the order "durable before visible, all
  durable before returning" is the same as with per-file fsyncs. Since Linux 5.8 ``syncfs``
  reports writeback errors (``EIO``, ``ENOSPC``) that happened on the file system since the
  descriptor was opened; the descriptor is opened before the temp files are written, a
  failure raises :class:`OSError` before anything is moved into place, and older kernels
  (whose ``syncfs`` cannot report them) use the fsync path, as do file systems where
  ``syncfs`` is not known to do what ``fsync`` does (NFS, FUSE, overlayfs: only those in
  :data:`SYNCFS_FILE_SYSTEMS` take this path). Each file system that holds a folder written to
  (a mount inside the lake) gets its own ``syncfs``. The cost: ``syncfs`` also writes back
  other processes' dirty data on the same file system, so a call can wait for a neighbour's
  large unsynced writes.
* **Local, elsewhere (fsync)**: the temp files are written and fsynced on a thread pool (the
  journal then commits them together instead of one commit per file), linked into place, and
  each folder that gained an entry is fsynced once.
* **S3**: the conditional ``PUT`` requests run concurrently.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import stat
import sys
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.core.settings import LakeSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Concurrent fsyncs / PUTs of one put_many_if_absent. Measured on the 2-core VM's ext4 disk
#: (400 objects in new folders): 1 thread 1.2-2.5 s, 8 threads 0.3 s, 16 threads 0.2-0.5 s,
#: 64 threads no better; the threads only wait on I/O (the GIL is released).
IO_THREADS = 16

T = TypeVar("T")


def _overlapped(work: Callable[[T], object], items: Iterable[T]) -> None:
    """``work`` on every item, on a thread pool when there is more than one (the first error
    is raised once all are done)."""
    batch = list(items)
    if len(batch) <= 1:
        for item in batch:
            work(item)
        return
    with ThreadPoolExecutor(min(IO_THREADS, len(batch))) as pool:
        for _ in pool.map(work, batch):
            pass


def _kernel_version() -> tuple[int, int]:
    try:
        major, minor = platform.release().split(".")[:2]
        return int(major), int("".join(c for c in minor if c.isdigit()) or 0)
    except ValueError:
        return (0, 0)


def _linux_libc() -> ctypes.CDLL | None:
    """The C library, on Linux >= 5.8 (the first whose ``syncfs`` reports writeback errors)
    when it has ``syncfs`` and ``fstatfs``; else None."""
    if not sys.platform.startswith("linux") or _kernel_version() < (5, 8):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for name in ("syncfs", "fstatfs"):
            getattr(libc, name).restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    libc.syncfs.argtypes = [ctypes.c_int]
    libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return libc


_LIBC = _linux_libc()
_SYNCFS: Callable[[int], int] | None = None if _LIBC is None else _LIBC.syncfs


def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    """libc's ``renameat2`` (glibc >= 2.28) on Linux >= 5.8, else None."""
    function = getattr(_LIBC, "renameat2", None)
    if function is None:
        return None
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2: Callable[[int, bytes, int, bytes, int], int] = function
    return renameat2


_RENAMEAT2 = _renameat2()
#: ``renameat2`` flag: fail with EEXIST instead of replacing the target.
_RENAME_NOREPLACE = 1

#: File systems (``statfs`` magic numbers) whose ``syncfs`` does what per-file fsyncs do: it
#: writes back every dirty inode, then commits the journal or transaction and flushes the
#: device cache: ext2/3/4, xfs, btrfs, f2fs, zfs; and tmpfs (memory: nothing is durable either
#: way). Elsewhere (NFS, FUSE, overlayfs, ...) ``syncfs`` may do less than ``fsync`` (FUSE
#: passes it on only to servers that ask for it), so the store fsyncs there.
SYNCFS_FILE_SYSTEMS = frozenset(
    {0xEF53, 0x58465342, 0x9123683E, 0xF2F52010, 0x2FC12FC1, 0x01021994}
)


def syncfs_available() -> bool:
    """Whether :func:`syncfs` can be used here (Linux >= 5.8 with a libc that has it)."""
    return _SYNCFS is not None


def syncfs(fd: int) -> None:
    """``syncfs(2)`` on the file system holding ``fd``: every dirty page and inode of that file
    system is written back and waited for. Raises :class:`OSError` when it fails or reports a
    writeback error since ``fd`` was opened (or since the last ``syncfs`` on it)."""
    if _SYNCFS is None:
        raise OSError(errno.ENOSYS, "syncfs is not available here")
    if _SYNCFS(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"syncfs failed: {os.strerror(code)}")


def _file_system_type(fd: int) -> int:
    """The ``statfs`` magic number of the file system holding ``fd`` (0 when unknown)."""
    if _LIBC is None:
        return 0
    buffer = ctypes.create_string_buffer(512)  # struct statfs: 120 bytes on 64-bit Linux
    if _LIBC.fstatfs(fd, buffer) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"fstatfs failed: {os.strerror(code)}")
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF  # f_type comes first


class ObjectStore(ABC):
    """Keys are '/'-separated paths relative to the lake root."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` unless an object is already there; True when written."""

    def put_many_if_absent(self, objects: Mapping[str, bytes]) -> dict[str, bool]:
        """:meth:`put_if_absent` for each object (key -> True when written); every object is
        durable when it returns. Stores override it to overlap the per-object waits."""
        return {key: self.put_if_absent(key, data) for key, data in objects.items()}

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` in lexical order, hidden (``.``/``_``-prefixed) names skipped."""

    @abstractmethod
    def describe(self) -> str:
        """Where the store points, for logs and reports."""


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``. ``use_syncfs``: make a :meth:`put_many_if_absent`
    durable with two ``syncfs`` calls (True), with per-file and per-folder fsyncs (False), or
    with ``syncfs`` where it is available (None, the default); see the module docstring."""

    def __init__(self, root: Path, *, use_syncfs: bool | None = None) -> None:
        self.root = root.resolve()
        if use_syncfs and not syncfs_available():
            raise ValueError("syncfs is not available here (Linux >= 5.8 only)")
        self.use_syncfs = syncfs_available() if use_syncfs is None else use_syncfs

    def _relative(self, key: str) -> str:
        """``key`` normalised as text, relative to the root. A key is a name, not a file-system
        walk: resolving every key cost the lander an lstat per path component (8 % of its CPU
        time per object), and ``pathlib`` several µs more per key than string operations."""
        relative = os.path.normpath(key)
        if relative.startswith("/") or relative == ".." or relative.startswith("../"):
            raise ValueError(f"object key escapes the store root: {key!r}")
        return relative

    def _path(self, key: str) -> Path:
        return self.root / self._relative(key)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self.put_many_if_absent({key: data})[key]

    def put_many_if_absent(self, objects: Mapping[str, bytes]) -> dict[str, bool]:
        """Durable before visible, like one :meth:`put_if_absent` at a time: every temp file
        is durable before any object is moved into place, and every folder that gained an
        entry (an object, or a folder created for it) is durable before this returns."""
        relative = {key: self._relative(key) for key in objects}  # bad keys refused first
        repeated = {path for path, count in Counter(relative.values()).items() if count > 1}
        if repeated:
            same = sorted(key for key, path in relative.items() if path in repeated)
            raise ValueError(f"object keys name the same object: {same}")
        # Trust is decided before any folder is created: the fsync path makes durable the
        # folders it creates, and would not know of those an abandoned syncfs attempt made.
        if self.use_syncfs:
            root = str(self.root)
            if _on_trusted_file_systems(root, {r.rpartition("/")[0] for r in relative.values()}):
                return _put_many_syncfs(root, objects, relative)
        return _put_many_fsync(objects, {key: self.root / r for key, r in relative.items()})

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith((".", "_")):
                yield path.relative_to(self.root).as_posix()

    def describe(self) -> str:
        return str(self.root)


def _put_many_fsync(objects: Mapping[str, bytes], finals: Mapping[str, Path]) -> dict[str, bool]:
    """The fsync path: temp files written and fsynced on a thread pool, linked into place,
    then each folder that gained an entry fsynced once."""
    pending = {key: final for key, final in finals.items() if not final.exists()}
    written = dict.fromkeys(objects, False)
    if not pending:
        return written
    changed: set[Path] = set()  # folders whose new entries must be made durable
    for final in pending.values():
        changed.update(_make_folders(final.parent))
    # Hidden temp names: readers (Spark's file source) skip names starting with '.'.
    temps = {key: final.with_name(_temp_name(final.name)) for key, final in pending.items()}
    try:
        _overlapped(lambda key: _write_durably(temps[key], objects[key]), temps)
        for key, tmp in temps.items():
            try:
                os.link(tmp, pending[key])  # atomic; fails instead of replacing
            except FileExistsError:
                continue
            written[key] = True
            changed.add(pending[key].parent)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    _overlapped(_fsync_dir, changed)
    return written


def _put_many_syncfs(
    root: str, objects: Mapping[str, bytes], relative: Mapping[str, str]
) -> dict[str, bool]:
    """The syncfs path: every object is created, written and moved relative to one descriptor
    of the store's root (``openat``, ``renameat2`` on root-relative paths: the kernel looks up
    a few cached path components instead of the folder being opened and closed in each phase,
    and there is no ``stat`` per object), a missing folder is created when the first create in
    it fails, the temp files are made durable with one ``syncfs``, moved into place without
    replacing (an object already there keeps its bytes and reads as not written), and the new
    entries and folders made durable with a second ``syncfs``. Only for folders on file
    systems whose ``syncfs`` is trusted (:func:`_on_trusted_file_systems`)."""
    written = dict.fromkeys(objects, False)
    token = uuid.uuid4().hex  # one per call: hidden temp names that no other writer uses
    temps: dict[str, str] = {}  # key -> root-relative temp path
    with contextlib.ExitStack() as stack:
        root_fd = stack.enter_context(_folder_fd(Path(root), create=True))
        # One descriptor per file system, opened before anything is written to it: syncfs
        # reports the writeback errors that happen after a descriptor was opened.
        file_systems: dict[int, int] = {}
        checked: set[str] = set()  # folders whose file system is known
        try:
            for key, path in relative.items():
                folder, _, name = path.rpartition("/")
                temp = f"{folder}/{_temp_name(name, token)}" if folder else _temp_name(name, token)
                fd = _create(temp, folder, root_fd)
                temps[key] = temp
                try:
                    if folder not in checked:
                        device = os.fstat(fd).st_dev
                        if device not in file_systems:
                            if _file_system_type(fd) not in SYNCFS_FILE_SYSTEMS:
                                # A mount appeared since the check: never weaken durability.
                                raise OSError(
                                    f"{folder} moved to a file system syncfs is not trusted on"
                                )
                            file_systems[device] = stack.enter_context(_duplicate(fd))
                        checked.add(folder)
                    _write_all(fd, objects[key])
                finally:
                    os.close(fd)
            for fd in file_systems.values():
                syncfs(fd)  # every temp file durable before any is moved into place
            for key, path in relative.items():
                written[key] = _move_if_absent(root_fd, temps[key], path)
        finally:
            for key, temp in temps.items():
                if not written[key]:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp, dir_fd=root_fd)
        for fd in file_systems.values():
            syncfs(fd)  # the new entries and folders durable
    return written


def _on_trusted_file_systems(root: str, folders: Iterable[str]) -> bool:
    """Whether every folder (relative to ``root``; where it does not exist yet, its nearest
    existing ancestor, whose file system a new folder joins) is on a file system in
    :data:`SYNCFS_FILE_SYSTEMS`: a ``stat`` per folder, a ``statfs`` per device."""
    trusted: set[int] = set()
    for folder in folders:
        path = Path(root, folder)
        while True:
            try:
                status = path.stat()
                if stat.S_ISDIR(status.st_mode):
                    break
            except (FileNotFoundError, NotADirectoryError):
                pass
            if path == path.parent:
                status = path.stat()
                break
            path = path.parent
        if status.st_dev in trusted:
            continue
        with _folder_fd(path, create=False) as fd:
            if _file_system_type(fd) not in SYNCFS_FILE_SYSTEMS:
                return False
        trusted.add(status.st_dev)
    return True


def _temp_name(name: str, token: str | None = None) -> str:
    """A hidden temp name beside ``name``: readers (Spark's file source) skip names starting
    with '.'. ``token``: unique to the caller (one per call of many objects), else a new one."""
    return f".{name}.{token or uuid.uuid4().hex}.tmp"


@contextlib.contextmanager
def _folder_fd(folder: Path, *, create: bool) -> Iterator[int]:
    """A descriptor of ``folder`` (created with its missing parents when ``create``)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = os.open(folder, flags)
    except FileNotFoundError:
        if not create:
            raise
        _make_folders(folder)
        fd = os.open(folder, flags)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _duplicate(fd: int) -> Iterator[int]:
    copy = os.dup(fd)
    try:
        yield copy
    finally:
        os.close(copy)


def _move_if_absent(dir_fd: int, temp: str, name: str) -> bool:
    """Move ``temp`` to ``name`` (both in ``dir_fd``) unless ``name`` exists: True when moved;
    else the temp file is removed. ``renameat2(RENAME_NOREPLACE)`` does it in one atomic step;
    where the kernel or file system lacks it, a hard link (which fails instead of replacing)
    and an unlink do."""
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(dir_fd, temp.encode(), dir_fd, name.encode(), _RENAME_NOREPLACE) == 0:
            return True
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            os.unlink(temp, dir_fd=dir_fd)
            return False
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, f"renameat2 failed: {os.strerror(code)}", name)
    try:
        os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except FileExistsError:
        return False
    finally:
        os.unlink(temp, dir_fd=dir_fd)
    return True


def _create(path: str, folder: str, dir_fd: int) -> int:
    """A descriptor of a new file at ``path`` (relative to ``dir_fd``, in ``folder``), ``folder``
    and its missing parents created when the first try finds no folder."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o666, dir_fd=dir_fd)
    except FileNotFoundError:
        if not folder:
            raise
    _make_folders_at(folder, dir_fd)
    return os.open(path, flags, 0o666, dir_fd=dir_fd)


def _make_folders_at(folder: str, dir_fd: int) -> None:
    """Create ``folder`` (relative to ``dir_fd``) and its missing parents."""
    try:
        os.mkdir(folder, dir_fd=dir_fd)
    except FileExistsError:
        return  # another writer created it meanwhile
    except FileNotFoundError:
        parent = folder.rpartition("/")[0]
        if not parent:
            raise
        _make_folders_at(parent, dir_fd)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, dir_fd=dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    """``data`` written to ``fd``, not fsynced (the caller syncs the file system)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the folders that gained an entry
    (the parent of each folder created), which must be fsynced for the new folders to be
    durable."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)  # exist_ok: another writer may create it meanwhile
    return [created.parent for created in missing]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3ObjectStore(ObjectStore):
    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except ClientError as error:
            if _error_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def put_many_if_absent(self, objects: Mapping[str, bytes]) -> dict[str, bool]:
        """The conditional PUTs run concurrently (a boto3 client is thread-safe): the
        round trips overlap instead of adding up."""
        written: dict[str, bool] = {}

        def put(key: str) -> None:
            written[key] = self.put_if_absent(key, objects[key])

        _overlapped(put, objects)
        return {key: written[key] for key in objects}

    def get(self, key: str) -> bytes:
        body: Any = self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        data: bytes = body.read()
        return data

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                key = item["Key"][strip:]
                if not key.rsplit("/", 1)[-1].startswith((".", "_")):
                    yield key

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def s3_client(lake: LakeSettings) -> S3Client:
    """A boto3 S3 client for the configured endpoint and credentials."""
    secret = lake.aws_secret_access_key
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=lake.s3_endpoint_url,
        region_name=lake.aws_region,
        aws_access_key_id=lake.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(retries={"max_attempts": 5, "mode": "adaptive"}),
    )
    return client


def open_object_store(lake: LakeSettings) -> ObjectStore:
    """The lake's object store: S3 when ``lake_root`` is ``s3://...``, else a local folder."""
    if not lake.is_s3:
        return LocalObjectStore(Path(lake.root))
    bucket, _, prefix = lake.root.removeprefix("s3://").partition("/")
    return S3ObjectStore(bucket, prefix, s3_client(lake))
