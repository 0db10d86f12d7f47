"""The model store: versioned model artefacts in the lake (``models/`` beside the data)."""

# No ``from __future__ import annotations``: Dagster reads the ResourceDependency annotation
# at class creation and needs the type itself, not its name.
import dagster as dg

from pipelines import steps
from pipelines.lakehouse import Lakehouse


class ModelStoreResource(dg.ConfigurableResource["ModelStoreResource"]):
    """Where the ML assets save and find model artefacts: ``<lake>/<prefix>/<name>/<version>``."""

    lakehouse: dg.ResourceDependency[Lakehouse]
    prefix: str = "models"

    def registry(self) -> steps.ModelRegistry:
        return steps.model_registry(self.lakehouse, self.prefix)
