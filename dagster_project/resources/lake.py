"""Where the lake lives: bronze objects and silver/gold Delta tables, plus local job state."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg

from dagster_project.resources.settings import from_settings
from pipelines.core.settings import Settings


class LakeResource(dg.ConfigurableResource["LakeResource"]):
    """The lake root (a local folder or ``s3://bucket/prefix``) and the local folder for
    streaming checkpoints. S3 credentials are not configuration: they come from the
    ``RWA_AWS_*`` variables or the default AWS credential chain."""

    SETTINGS: ClassVar[dict[str, str]] = {
        "lake_root": "lake_root",
        "state_dir": "state_dir",
        "s3_endpoint_url": "s3_endpoint_url",
        "aws_region": "aws_region",
    }

    lake_root: str
    state_dir: str
    s3_endpoint_url: str | None = None
    aws_region: str = "us-east-1"

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeResource:
        return from_settings(cls, settings)
