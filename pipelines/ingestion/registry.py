"""Source name -> connector class: the one place that knows every connector."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pipelines.core.errors import ConfigurationError
from pipelines.ingestion.base import Connector
from pipelines.ingestion.simulated import SimulatedSource

CONNECTORS: Mapping[str, type[Connector]] = MappingProxyType(
    {
        SimulatedSource.name: SimulatedSource,
    }
)


def known_sources() -> list[str]:
    """Registered source names, sorted."""
    return sorted(CONNECTORS)


def get_connector(name: str, **kwargs: Any) -> Connector:
    """A new connector for source ``name``, built with ``kwargs``.

    Raises ConfigurationError for an unknown name (listing the known ones) or for arguments the
    connector does not accept.
    """
    connector = CONNECTORS.get(name)
    if connector is None:
        raise ConfigurationError(
            f"unknown source {name!r}; known sources: {', '.join(known_sources())}"
        )
    try:
        return connector(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(f"source {name!r}: invalid arguments: {exc}") from exc
