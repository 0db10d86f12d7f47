"""Every silver dataset and the parsers that feed it, registered in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError
from pipelines.silver.economic import economic_spec
from pipelines.silver.news import news_spec
from pipelines.silver.onchain import onchain_spec
from pipelines.silver.prices import prices_spec
from pipelines.silver.spec import DatasetSpec

_BUILDERS: dict[str, Callable[[Sequence[Asset]], DatasetSpec]] = {
    "prices": prices_spec,
    "onchain": onchain_spec,
    "economic": lambda _assets: economic_spec(),
    "news": news_spec,
}
#: Silver datasets, in the order ``rwa silver`` runs them.
SILVER_DATASETS: tuple[str, ...] = tuple(_BUILDERS)


def dataset_spec(dataset: str, assets: Sequence[Asset]) -> DatasetSpec:
    """The spec of ``dataset`` over the reference ``assets`` (symbols, slugs, names)."""
    builder = _BUILDERS.get(dataset)
    if builder is None:
        raise ConfigurationError(
            f"unknown silver dataset {dataset!r}; known: {', '.join(SILVER_DATASETS)}"
        )
    return builder(assets)
