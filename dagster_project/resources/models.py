"""The model store: versioned model artefacts in the lake (``models/`` beside the data)."""

from __future__ import annotations

import dagster as dg

from dagster_project.resources.lake import LakeResource
from dagster_project.resources.settings import pipeline_settings
from models.registry import ModelRegistry
from pipelines.lake.objects import open_object_store


class ModelStoreResource(dg.ConfigurableResource["ModelStoreResource"]):
    """Where the ML assets save and find model artefacts: ``<lake>/<prefix>/<name>/<version>``."""

    lake: LakeResource
    prefix: str = "models"

    def registry(self) -> ModelRegistry:
        return ModelRegistry(open_object_store(pipeline_settings(self.lake).lake), self.prefix)
