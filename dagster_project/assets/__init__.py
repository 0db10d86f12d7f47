"""Software-defined assets, grouped by layer: bronze -> silver -> gold -> ml -> serving, alerts."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.bronze import bronze_assets
from dagster_project.assets.gold import gold_assets
from dagster_project.assets.ml import (
    forecasts_asset,
    risk_asset,
    sentiment_asset,
    signals_asset,
)
from dagster_project.assets.serving import alerts_asset, serving_asset
from dagster_project.assets.silver import silver_assets
from pipelines.lakehouse import Lakehouse


def lakehouse_assets(
    lakehouse: Lakehouse, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    return [
        *bronze_assets(partitions),
        *silver_assets(lakehouse, partitions),
        gold_assets(partitions),
        forecasts_asset(partitions),
        sentiment_asset(partitions),
        risk_asset(partitions),
        signals_asset(partitions),
        serving_asset(partitions),
        alerts_asset(partitions),
    ]
