"""The `rwa` console script as a user calls it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

RWA = str(Path(sys.executable).with_name("rwa"))


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RWA, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=(os.environ | (env or {})),
    )


def test_help_lists_every_subcommand() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in (
        "demo",
        "ingest",
        "silver",
        "gold",
        "load",
        "serve",
        "db",
        "assets",
        "maintain",
        "backfill",
        "quarantine",
        "users",
    ):
        assert command in done.stdout


def test_assets_lists_the_reference_data() -> None:
    done = run("assets")
    assert done.returncode == 0
    assert "reference data version" in done.stdout
    assert "ousg" in done.stdout


def test_bad_setting_is_a_one_line_error_naming_it() -> None:
    done = run("assets", env={"RWA_SIM_DAYS": "-3"})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "RWA_SIM_DAYS" in done.stderr


def test_unknown_asset_is_a_one_line_error(tmp_path: Path) -> None:
    done = run("ingest", "--assets", "nope,btc", env={"RWA_LAKE_ROOT": str(tmp_path)})
    assert done.returncode == 2
    assert "RWA_SIM_ASSETS names unknown asset ids ['nope']" in done.stderr


def test_maintain_compacts_every_table_and_reports_it(tmp_path: Path) -> None:
    import pyarrow as pa

    from pipelines.core.settings import Settings
    from pipelines.lake.delta import DeltaLake

    settings = Settings(lake_root=str(tmp_path))
    uri = settings.lake.uri("silver", "events")
    for day in (1, 2, 3):
        rows = pa.table({"key": [day], "value": [day * 1.5]})
        DeltaLake(settings.lake, settings.spark).merge(rows, uri, keys=("key",), update_when=None)

    done = run("maintain", env={"RWA_LAKE_ROOT": str(tmp_path)})

    assert done.returncode == 0, done.stderr
    assert f"{uri}: v2 -> v3, files 3 -> 1 (3 compacted), vacuumed 0, 3 rows" in done.stdout
    assert "1 tables; vacuum retention 168 h" in done.stdout


@pytest.mark.usefixtures("spark")
def test_quarantine_lists_sets_aside_and_replays_a_broken_object(tmp_path: Path) -> None:
    """A truncated price object quarantined whole by silver: listed (and warned about by
    `rwa quality`), set aside idempotently, then replayed once its content is whole again."""
    from pipelines import steps
    from pipelines.core.errors import NotFoundError
    from pipelines.lake.delta import DeltaLake
    from pipelines.lake.paths import LakePaths
    from pipelines.lakehouse import Lakehouse
    from tests.fixtures.lake import lake_settings
    from tests.pipelines.silver.bronze_factory import (
        DAY0,
        hourly_bars,
        land_lines,
        price_envelope,
    )

    settings = lake_settings(tmp_path)
    env = {"RWA_LAKE_ROOT": settings.lake.root, "RWA_STATE_DIR": str(settings.lake.state_dir)}
    fetched = DAY0 + dt.timedelta(days=1)
    line = price_envelope("BTC", hourly_bars(DAY0, 10.0, 3), fetched).to_json_line()
    key = land_lines(Path(settings.lake.root), [line[:40]], name="part-cut.jsonl")
    steps.run_silver(Lakehouse.from_settings(settings), "prices")

    listed = run("quarantine", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert key in listed.stdout and "quarantined  1 of 1 records refused" in listed.stdout
    assert "malformed JSON line (1)" in listed.stdout
    quality = run("quality", env=env)
    assert "WARNING: bronze objects quarantined whole" in quality.stdout and key in quality.stdout
    done = run("quarantine", "set-aside", key, "--note", "partial upload", env=env)
    assert (done.returncode, done.stdout.strip()) == (0, f"{key}: set_aside"), done.stderr
    assert (
        steps.set_aside_object(Lakehouse.from_settings(settings), key, "again") == "set_aside"
    )  # idempotent
    with pytest.raises(NotFoundError, match="is not a bronze object"):
        steps.set_aside_object(Lakehouse.from_settings(settings), "bronze/nope.jsonl", "")

    (Path(settings.lake.root) / key).write_text(line + "\n")
    # Spark and Great Expectations start in the subprocess: slow on a loaded machine
    replayed = run("quarantine", "replay", key, env=env, timeout=600)

    assert replayed.returncode == 0, replayed.stderr
    assert f"{key}: replayed" in replayed.stdout
    assert (
        DeltaLake(settings.lake, settings.spark).count_rows(
            LakePaths(settings.lake).silver("prices")
        )
        == 3
    )
    again = steps.replay_object(Lakehouse.from_settings(settings), key)
    assert (again.status_before, again.silver) == ("replayed", None)
