"""Every silver dataset: its table contract and the parsers the sources register for it.

The tables are declared in :mod:`pipelines.contracts.silver` (``DATASET_TABLES``); each
source package declares its parsers, and the ingestion registry lists them per dataset
(:func:`pipelines.ingestion.registry.dataset_parsers`), with the endpoints a dataset ignores.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.contracts.reference import Asset
from pipelines.contracts.silver import DATASET_TABLES
from pipelines.core.errors import ConfigurationError
from pipelines.ingestion.registry import dataset_parsers, ignored_endpoints
from pipelines.silver.spec import DatasetSpec

#: Silver datasets, in the order ``rwa silver`` runs them.
SILVER_DATASETS: tuple[str, ...] = tuple(DATASET_TABLES)


def dataset_spec(dataset: str, assets: Sequence[Asset]) -> DatasetSpec:
    """The spec of ``dataset`` over the reference ``assets`` (symbols, slugs, names)."""
    for name, table in DATASET_TABLES.items():
        if name == dataset:
            return DatasetSpec(table, dataset_parsers(name, assets), ignored_endpoints(name))
    raise ConfigurationError(
        f"unknown silver dataset {dataset!r}; known: {', '.join(SILVER_DATASETS)}"
    )
