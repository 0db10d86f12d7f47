"""Asset jobs: what the schedules and sensors run, and what an engineer launches by hand."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets import bronze, gold, ml, serving, silver

#: Every layer of one fetch day, simulated source included: the whole graph on simulated data.
LAKEHOUSE = "lakehouse"
SIMULATED_INGEST = "simulated_ingest"
SOURCE_INGEST = "source_ingest"
SILVER = "silver"
#: Silver, gold and the serving load of one fetch day (the daily run for yesterday), then the
#: alert evaluation.
DAILY = "daily_refresh"
#: Forecasts with every model's order chosen afresh, then the serving load and alerts.
RETRAIN = "forecast_retraining"
#: Run config that makes ``ml/forecasts`` re-choose model orders.
RESELECT_CONFIG = {"ops": {"ml__forecasts": {"config": {"reselect_orders": True}}}}

_PARTITIONED_LAYERS = dg.AssetSelection.groups(silver.GROUP, gold.GROUP, ml.GROUP, serving.GROUP)
#: What follows a load in the scheduled runs (the ``lakehouse`` job, run whole by the tests,
#: stops at the load; ``rwa load`` and this group evaluate after it).
_ALERTS = dg.AssetSelection.groups(serving.ALERTS_GROUP)


def lakehouse_jobs(partitions: dg.PartitionsDefinition) -> list[dg.UnresolvedAssetJobDefinition]:
    simulated = dg.AssetSelection.assets(bronze.bronze_key(bronze.SIMULATED))
    return [
        dg.define_asset_job(
            LAKEHOUSE,
            selection=simulated | _PARTITIONED_LAYERS,
            partitions_def=partitions,
            description="simulated bronze -> silver -> gold -> serving for fetch days",
        ),
        dg.define_asset_job(SIMULATED_INGEST, selection=simulated, partitions_def=partitions),
        dg.define_asset_job(
            SOURCE_INGEST,
            selection=dg.AssetSelection.groups(bronze.GROUP) - simulated,
            description="every HTTP source's bronze asset (needs network and API keys)",
        ),
        dg.define_asset_job(
            SILVER, selection=dg.AssetSelection.groups(silver.GROUP), partitions_def=partitions
        ),
        dg.define_asset_job(
            DAILY, selection=_PARTITIONED_LAYERS | _ALERTS, partitions_def=partitions
        ),
        dg.define_asset_job(
            RETRAIN,
            selection=dg.AssetSelection.assets(
                ml.FORECASTS_KEY, serving.SERVING_KEY, serving.ALERTS_KEY
            ),
            partitions_def=partitions,
            config=RESELECT_CONFIG,
            description="retrain the forecasting models (orders re-chosen) and serve them",
        ),
    ]
