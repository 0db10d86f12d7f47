"""What can still make a load fail fails before the long work: ``rwa demo`` checks the serving
store before it simulates, ``rwa serve`` before it starts the server."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import Settings
from pipelines.demo import run_demo
from pipelines.lakehouse import Lakehouse
from tests.fixtures.lake import lake_settings
from tests.fixtures.processes import free_port

RWA = str(Path(sys.executable).with_name("rwa"))


def _unusable_duckdb(root: Path) -> Settings:
    blocker = root / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    return lake_settings(root, duckdb_path=blocker / "serving.duckdb")


def _unreachable_timescale(root: Path) -> Settings:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/rwa"  # nothing listens there
    return lake_settings(root, serving_backend="timescaledb", timescale_dsn=dsn)


@pytest.mark.parametrize(
    "unusable", [_unusable_duckdb, _unreachable_timescale], ids=["duckdb", "timescaledb"]
)
def test_demo_refuses_an_unusable_serving_store_before_simulating(
    tmp_path: Path, unusable: Callable[[Path], Settings]
) -> None:
    settings = unusable(tmp_path)
    out = io.StringIO()
    with pytest.raises(StoreUnavailableError):
        run_demo(Lakehouse.from_settings(settings), out)
    assert not (Path(settings.lake.root) / "bronze").exists()  # nothing was simulated
    assert out.getvalue() == ""


def test_serve_without_a_store_exits_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RWA_")}
    done = subprocess.run(
        [RWA, "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "rwa: error: DuckDB store data/serving.duckdb does not exist; load data into it "
        "before reading"
    ]
