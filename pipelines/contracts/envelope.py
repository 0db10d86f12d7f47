"""The bronze envelope: how every raw response is stored, whatever its source.

A line of bronze is ``{source, endpoint, params, fetched_at, ingest_id, schema_version, dataset,
payload}``. ``payload`` is the response body exactly as the source returned it (parsed JSON);
silver parses it. ``ingest_id`` is derived from the content, so the same response enveloped twice
gets the same id and bronze can refuse the duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

Dataset = Literal["prices", "onchain", "economic", "news", "transfers"]
DATASETS: tuple[Dataset, ...] = ("prices", "onchain", "economic", "news", "transfers")


class RawEnvelope(BaseModel):
    """One raw response from one source, wrapped for bronze."""

    # A payload is kept as the source sent it: a NaN or an infinity stays one (written as the
    # JSON literals NaN/Infinity, which silver refuses with a reason) instead of pydantic's
    # default of turning it into null, which silver would read as "no value".
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    source: str = Field(min_length=1, description="Connector name, e.g. 'simulated', 'coingecko'.")
    dataset: Dataset
    endpoint: str = Field(min_length=1, description="Endpoint (path template) that was called.")
    params: dict[str, Any] = Field(default_factory=dict)
    fetched_at: dt.datetime
    ingest_id: str = Field(min_length=1)
    schema_version: int = SCHEMA_VERSION
    payload: Any

    @field_validator("fetched_at")
    @classmethod
    def _require_utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("fetched_at must be timezone-aware")
        return value.astimezone(dt.UTC)

    @classmethod
    def wrap(
        cls,
        *,
        source: str,
        dataset: Dataset,
        endpoint: str,
        params: dict[str, Any],
        fetched_at: dt.datetime,
        payload: Any,
    ) -> RawEnvelope:
        """Envelope a response, deriving ``ingest_id`` from everything that identifies it."""
        identity = canonical_json(
            {
                "source": source,
                "dataset": dataset,
                "endpoint": endpoint,
                "params": params,
                "fetched_at": fetched_at.astimezone(dt.UTC).isoformat(),
                "payload": payload,
            }
        )
        ingest_id = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return cls(
            source=source,
            dataset=dataset,
            endpoint=endpoint,
            params=params,
            fetched_at=fetched_at,
            ingest_id=ingest_id,
            payload=payload,
        )

    @property
    def fetched_date(self) -> dt.date:
        return self.fetched_at.date()

    def to_json_line(self) -> str:
        """One canonical JSON line (sorted keys, ISO timestamps, no trailing newline)."""
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: same value, same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- the bronze object layout ----------------------------------------------------------------
# ``bronze/source=<source>/dataset=<dataset>/date=<fetch date>/<object>.jsonl``, one envelope
# per line: bronze writes it, silver streams it, the inventory and the sensors read it.

BRONZE_PREFIX = "bronze"


def partition_prefix(source: str, dataset: str, day: str) -> str:
    """Folder of one (source, dataset, date) partition, relative to the lake root."""
    return f"{BRONZE_PREFIX}/source={source}/dataset={dataset}/date={day}"


def dataset_glob(dataset: str, days: Sequence[dt.date] | None = None) -> str:
    """Glob (relative to the lake root) matching the bronze objects of a dataset: all of them,
    or those fetched on ``days`` (Hadoop/Spark ``{a,b}`` alternation)."""
    dates = "*" if days is None else "{" + ",".join(day.isoformat() for day in days) + "}"
    return f"{BRONZE_PREFIX}/source=*/dataset={dataset}/date={dates}/*.jsonl"


_OBJECT_KEY = re.compile(
    rf"^{BRONZE_PREFIX}/source=[^/]+/dataset=(?P<dataset>[^/]+)/date=[^/]+/[^/]+$"
)
#: In an object's path or URL: its lake-relative key (group 1), and its ``source=`` folder
#: (group 1), as both silver engines read them from the files they are given.
KEY_IN_PATH = rf"({BRONZE_PREFIX}/.*)$"
SOURCE_IN_PATH = r"/source=([^/]+)/"


def object_dataset(key: str) -> str | None:
    """The dataset of the bronze object at ``key`` (lake-relative), or None when ``key`` does
    not name an object in the bronze layout."""
    match = _OBJECT_KEY.match(key)
    return None if match is None else match["dataset"]
