"""The `rwa` console script as a user calls it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RWA = str(Path(sys.executable).with_name("rwa"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RWA, *args],
        capture_output=True,
        text=True,
        timeout=120,
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
    uri = settings.lake_uri("silver", "events")
    for day in (1, 2, 3):
        rows = pa.table({"key": [day], "value": [day * 1.5]})
        DeltaLake(settings).merge(rows, uri, keys=("key",), update_when=None)

    done = run("maintain", env={"RWA_LAKE_ROOT": str(tmp_path)})

    assert done.returncode == 0, done.stderr
    assert f"{uri}: v2 -> v3, files 3 -> 1 (3 compacted), vacuumed 0, 3 rows" in done.stdout
    assert "1 tables; vacuum retention 168 h" in done.stdout
