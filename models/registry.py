"""Versioned model artefacts, kept in the lake beside the data they were trained on.

Layout (object keys relative to the lake root, local folder or S3)::

    models/<name>/<version>/<file>            the artefact's files (weights, config, ...)
    models/<name>/<version>/manifest.json     written last: metrics, parameters, file list

A version is ``<UTC timestamp>-<hash of the files>``, so versions sort by creation time and the
same files saved twice in the same second are one version. Every object is written with
``put_if_absent`` (never overwritten), and only versions whose manifest exists are listed: a
save that died half-way leaves files nobody reads, never a half-visible model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.errors import NotFoundError
from pipelines.lake.objects import ObjectStore

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One saved artefact of a model: what it is and how well it did."""

    name: str
    version: str
    created_at: dt.datetime
    files: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name@version``: what predictions record as their model version."""
        return f"{self.name}@{self.version}"


class ModelRegistry:
    """Saves, lists and loads :class:`ModelVersion` artefacts under ``prefix`` of a store."""

    def __init__(self, store: ObjectStore, prefix: str = "models") -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def save(
        self,
        name: str,
        files: Mapping[str, bytes],
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        created_at: dt.datetime | None = None,
    ) -> ModelVersion:
        """Store ``files`` as a new version of ``name`` (manifest last)."""
        _check_name(name)
        if not files:
            raise ValueError(f"model {name!r}: an artefact needs at least one file")
        for file in files:
            _check_name(file)
        created = (created_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        digest = hashlib.sha256()
        for file in sorted(files):
            digest.update(file.encode() + b"\0" + hashlib.sha256(files[file]).digest())
        version = f"{created:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:12]}"
        saved = ModelVersion(
            name,
            version,
            created,
            tuple(sorted(files)),
            {k: float(v) for k, v in (metrics or {}).items()},
            dict(params or {}),
        )
        for file, data in files.items():
            self.store.put_if_absent(self._key(name, version, file), data)
        self.store.put_if_absent(self._key(name, version, MANIFEST), _manifest(saved))
        return saved

    def versions(self, name: str) -> list[ModelVersion]:
        """Complete versions of ``name``, oldest first."""
        manifests = [
            key for key in self.store.list(f"{self.prefix}/{name}/") if key.endswith(f"/{MANIFEST}")
        ]
        return sorted(
            (_read_manifest(self.store.get(key)) for key in manifests),
            key=lambda v: (v.created_at, v.version),
        )

    def latest(self, name: str) -> ModelVersion | None:
        found = self.versions(name)
        return found[-1] if found else None

    def load(self, model: ModelVersion, file: str) -> bytes:
        if file not in model.files:
            raise NotFoundError(f"{model.label} has no file {file!r}; it has {list(model.files)}")
        return self.store.get(self._key(model.name, model.version, file))

    def _key(self, name: str, version: str, file: str) -> str:
        return f"{self.prefix}/{name}/{version}/{file}"


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith((".", "_")) or name == MANIFEST:
        raise ValueError(
            f"{name!r} is not a usable model or file name (no '/', no leading '.' or '_', "
            f"not {MANIFEST!r})"
        )


def _manifest(model: ModelVersion) -> bytes:
    body = {
        "name": model.name,
        "version": model.version,
        "created_at": model.created_at.isoformat(),
        "files": list(model.files),
        "metrics": model.metrics,
        "params": model.params,
    }
    return json.dumps(body, sort_keys=True, indent=1).encode()


def _read_manifest(data: bytes) -> ModelVersion:
    body = json.loads(data)
    return ModelVersion(
        name=body["name"],
        version=body["version"],
        created_at=dt.datetime.fromisoformat(body["created_at"]),
        files=tuple(body["files"]),
        metrics=body["metrics"],
        params=body["params"],
    )
