"""Where every table and checkpoint of the lake lives: the one home of the layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.core.settings import LakeSettings


@dataclass(frozen=True, slots=True)
class LakePaths:
    """``bronze/`` objects, ``silver/<table>`` and ``gold/<table>`` Delta tables under the lake
    root, and streaming checkpoints under the (always local) state folder."""

    lake: LakeSettings

    def silver(self, table: str) -> str:
        return self.lake.uri("silver", table)

    def gold(self, table: str) -> str:
        return self.lake.uri("gold", table)

    @property
    def quarantine(self) -> str:
        return self.silver("quarantine")

    @property
    def quality_results(self) -> str:
        """Great Expectations validation results, one row per expectation per batch."""
        return self.silver("quality_results")

    @property
    def reconciliation(self) -> str:
        """Per micro-batch record counts: bronze records = silver + quarantine + duplicates."""
        return self.silver("reconciliation")

    def checkpoint(self, stream: str) -> Path:
        return self.lake.state_dir.resolve() / "checkpoints" / stream

    @property
    def bronze_local_root(self) -> Path:
        """A local folder holding ``bronze/``: the lake itself, or the mirror of an S3 lake
        (Spark's file source here has no S3 filesystem)."""
        if self.lake.is_s3:
            return self.lake.state_dir.resolve() / "bronze-mirror"
        return Path(self.lake.root).resolve()
