"""Where the lake lives: bronze objects and silver/gold Delta tables, plus local job state."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.core.settings import Settings


class LakeResource(dg.ConfigurableResource["LakeResource"]):
    """The lake root (a local folder or ``s3://bucket/prefix``) and the local folder for
    streaming checkpoints. S3 credentials are not configuration: they come from the
    ``RWA_AWS_*`` variables or the default AWS credential chain."""

    lake_root: str
    state_dir: str
    s3_endpoint_url: str | None = None
    aws_region: str = "us-east-1"

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeResource:
        return cls(
            lake_root=settings.lake_root,
            state_dir=str(settings.state_dir),
            s3_endpoint_url=settings.s3_endpoint_url,
            aws_region=settings.aws_region,
        )

    def settings_fields(self) -> dict[str, Any]:
        return {
            "lake_root": self.lake_root,
            "state_dir": self.state_dir,
            "s3_endpoint_url": self.s3_endpoint_url,
            "aws_region": self.aws_region,
        }
