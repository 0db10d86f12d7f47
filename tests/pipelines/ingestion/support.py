"""Helpers the connector tests share."""

from __future__ import annotations

from pipelines.contracts.reference import Asset
from pipelines.reference import load_assets


def assets(*asset_ids: str) -> list[Asset]:
    """The reference assets named, in catalogue order."""
    wanted = set(asset_ids)
    return [a for a in load_assets() if a.asset_id in wanted]
