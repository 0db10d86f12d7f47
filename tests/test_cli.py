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
    for command in ("demo", "ingest", "silver", "gold", "load", "serve", "db", "assets"):
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
