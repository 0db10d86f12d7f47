"""The whole spine with the lake on S3 (a real S3-protocol server on loopback)."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from pipelines import steps
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from tests.fixtures.lake import MakeSettings
from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY, S3Server

pytestmark = pytest.mark.usefixtures("spark")


def test_spine_runs_on_s3_and_reruns_idempotently(
    s3_server: S3Server, make_settings: MakeSettings
) -> None:
    bucket = s3_server.create_bucket()
    settings = make_settings(
        **s3_server.settings_overrides(bucket),
        sim_assets=["btc", "usdt", "benji"],
        sim_days=2,
        sim_end=dt.date(2026, 3, 1),
        sim_fault_rate=0.0,
    )
    landed = steps.land_simulated(Lakehouse.from_settings(settings))
    # a silver run: its datasets in the silver executor process, credentials and all
    silver = steps.run_silver_all(Lakehouse.from_settings(settings), ["prices"])["prices"]
    gold = steps.run_gold(Lakehouse.from_settings(settings))
    served = steps.load_serving(Lakehouse.from_settings(settings))

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lake/")["Contents"]]
    assert (
        sum(k.startswith("lake/bronze/source=simulated/") for k in keys) == landed.objects_written
    )
    assert any(k.startswith("lake/silver/prices/_delta_log/") for k in keys)
    assert any(k.startswith("lake/gold/ohlcv_1d/_delta_log/") for k in keys)
    assert silver.inserted == 3 * 2 * 24
    assert (gold.rows["ohlcv_1h"], gold.rows["ohlcv_1d"]) == (3 * 2 * 24, 3 * 2)
    assert served.table_counts["ohlcv_1d"] == 3 * 2

    again = steps.land_simulated(Lakehouse.from_settings(settings))
    assert (again.objects_written, again.records) == (0, 0)
    assert steps.run_silver_prices(Lakehouse.from_settings(settings)).batches == 0
    lake = DeltaLake(settings.lake, settings.spark)
    assert lake.count_rows(LakePaths(settings.lake).silver("prices")) == 3 * 2 * 24
