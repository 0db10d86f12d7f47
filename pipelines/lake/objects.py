"""Object stores for the lake: a local folder (default) or S3.

Bronze objects are immutable: :meth:`ObjectStore.put_if_absent` never replaces an existing
object, and an object becomes visible only when complete (local: written under a hidden name,
fsynced, then hard-linked into place; S3: a conditional ``PUT`` with ``If-None-Match: *``).
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.core.settings import LakeSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(ABC):
    """Keys are '/'-separated paths relative to the lake root."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` unless an object is already there; True when written."""

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
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"object key escapes the store root: {key!r}")
        return path

    def put_if_absent(self, key: str, data: bytes) -> bool:
        final = self._path(key)
        if final.exists():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        # Hidden temp name: readers (Spark's file source) skip names starting with '.'.
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, final)  # atomic, and fails instead of replacing an existing object
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        _fsync_dir(final.parent)
        return True

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
