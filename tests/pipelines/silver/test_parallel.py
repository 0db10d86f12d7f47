"""Silver datasets run side by side (RWA_SILVER_PARALLELISM) build exactly the lake they build
one after another, a failing dataset neither stops nor corrupts the others, and both engines
(RWA_SILVER_ENGINE) build the same lake -- real Spark, real DuckDB, real Delta tables,
simulated bronze of every dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines import steps
from pipelines.contracts.silver import QUALITY_RESULTS, QUARANTINED_OBJECTS, RECONCILIATION
from pipelines.core.errors import DataQualityError
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse
from pipelines.silver.registry import SILVER_DATASETS
from tests.fixtures.lake import assert_same_tables, lake_of, lake_settings
from tests.fixtures.pipeline import ASSETS, DAYS, END
from tests.pipelines.silver.conftest import ENGINES

pytestmark = pytest.mark.usefixtures("spark")
#: The dataset the failure test breaks: neither the first nor the last one run.
BROKEN = "onchain"
#: Columns that differ between two runs by design (ids and instants of the run).
RUN_COLUMNS = {"stream_id", "processed_at", "run_id", "result_id", "validated_at"}
RUN_COLUMNS |= {"quarantined_at", "changed_at"}


def settings_of(root: Path, **overrides: Any) -> Settings:
    """A small simulated lake (1% faults: the quarantine has rows), several micro-batches per
    dataset."""
    small = {"sim_days": DAYS, "sim_end": END, "sim_assets": ASSETS, "sim_fault_rate": 0.01}
    batches = {"quality_max_failure_share": 0.5, "silver_max_files_per_trigger": 6}
    return lake_settings(root, **(small | batches | overrides))


@pytest.fixture(scope="module")
def bronze(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated bronze of every dataset (read-only: each test copies it)."""
    settings = settings_of(tmp_path_factory.mktemp("bronze"))
    steps.land_simulated(Lakehouse.from_settings(settings))
    return Path(settings.lake.root) / "bronze"


def lake_with(bronze: Path, root: Path, parallelism: int, engine: str) -> Settings:
    settings = settings_of(root, silver_parallelism=parallelism, silver_engine=engine)
    shutil.copytree(bronze, Path(settings.lake.root) / "bronze")
    return settings


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def one_after_another(bronze: Path, root: Path, engine: str) -> dict[str, pa.Table]:
    settings = lake_with(bronze, root, parallelism=1, engine=engine)
    steps.run_silver_all(Lakehouse.from_settings(settings))
    return silver_snapshot(settings)


@pytest.fixture(scope="module")
def spark_sequential(bronze: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """The reference of the engines: every dataset one after another, on Spark."""
    return one_after_another(bronze, tmp_path_factory.mktemp("spark-sequential"), "spark")


@pytest.fixture(scope="module")
def sequential(
    engine: str,
    bronze: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict[str, pa.Table]:
    """The reference of an engine: every dataset one after another."""
    if engine == "spark":
        return dict(request.getfixturevalue("spark_sequential"))
    return one_after_another(bronze, tmp_path_factory.mktemp("sequential"), engine)


def silver_snapshot(settings: Settings) -> dict[str, pa.Table]:
    """Every silver table, the quarantine, the ledger, the quarantined objects and the quality
    results, without the columns that name the run, sorted by what is left, each check's
    samples in one order (:func:`with_samples_sorted`: which unexpected values a batch samples
    is its engine's row order, and Spark's is not the same from run to run); a dataset's table
    that does not exist (nothing merged yet) is left out."""
    lake, paths = lake_of(settings)
    uris = {f"silver/{name}": paths.silver(name) for name in SILVER_DATASETS}
    uris["silver/quarantine"] = paths.quarantine
    uris["silver/reconciliation"] = paths.reconciliation
    uris["silver/quality_results"] = paths.quality_results
    uris["silver/quarantined_objects"] = paths.silver(QUARANTINED_OBJECTS.name)
    tables = {}
    for name, uri in uris.items():
        if lake.exists(uri):
            table = lake.to_arrow(uri)
        elif name == "silver/quarantined_objects":  # written only once an object is broken
            table = QUARANTINED_OBJECTS.schema.empty_table()
        else:
            continue
        if name == "silver/quality_results":
            table = _without_clock(table)
        kept = table.select(sorted(c for c in table.column_names if c not in RUN_COLUMNS))
        tables[name] = kept.sort_by([(c, "ascending") for c in _sort_keys(kept)])
    return with_samples_sorted(tables) if "silver/quality_results" in tables else tables


def _without_clock(results: pa.Table) -> pa.Table:
    """The table-level results without their arguments: the freshness bound is the clock's."""
    table_level = pc.is_null(results["batch_id"])
    kwargs = pc.if_else(table_level, pa.scalar(None, pa.string()), results["kwargs"])
    return results.set_column(results.schema.get_field_index("kwargs"), "kwargs", kwargs)


def _sort_keys(table: pa.Table) -> list[str]:
    """Columns a total order can use (nested and floating columns are left out)."""
    return [
        f.name
        for f in table.schema
        if not pa.types.is_nested(f.type) and not pa.types.is_floating(f.type)
    ]


def of_datasets(tables: dict[str, pa.Table], datasets: set[str]) -> dict[str, pa.Table]:
    """The rows of ``datasets`` only: their silver tables and their rows of shared tables."""
    kept = {}
    for name, table in tables.items():
        if name.removeprefix("silver/") in SILVER_DATASETS:
            if name.removeprefix("silver/") in datasets:
                kept[name] = table
            continue
        mask = pa.array([d in datasets for d in table["dataset"].to_pylist()], pa.bool_())
        kept[name] = table.filter(mask)
    return kept


def test_the_duckdb_engine_builds_the_lake_the_spark_engine_builds(
    engine: str, sequential: dict[str, pa.Table], spark_sequential: dict[str, pa.Table]
) -> None:
    """Silver tables, quarantine (rows and reasons), ledger, quality results: the same."""
    if engine == "spark":
        pytest.skip("the Spark engine is the reference")
    assert_same_tables(with_raw_as_values(sequential), with_raw_as_values(spark_sequential))


def with_raw_as_values(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The quarantine with each refused record's ``raw`` as its JSON values: Spark's
    ``to_json`` leaves null fields out where DuckDB's writes them (``"volume_traded":null``),
    so the text, and the ``record_id`` hashed from it, are each engine's own."""
    quarantine = tables["silver/quarantine"].drop_columns(["record_id"])
    raw = [_json_values(text) for text in quarantine["raw"].to_pylist()]
    index = quarantine.schema.get_field_index("raw")
    changed = quarantine.set_column(index, "raw", pa.array(raw, pa.string()))
    return tables | {
        "silver/quarantine": changed.sort_by([(c, "ascending") for c in _sort_keys(changed)])
    }


def _json_values(text: str | None) -> str | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return text
    if not isinstance(value, dict | list):
        return text
    return json.dumps(_without_nulls(value), sort_keys=True)


def _without_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def with_samples_sorted(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The quality results with each check's samples in one order: an engine's samples are
    the first unexpected values in its own row order (Spark's partitions, DuckDB's sort)."""
    results = tables["silver/quality_results"]
    observed = [
        _sorted_samples(value, unexpected)
        for value, unexpected in zip(
            results["observed_value"].to_pylist(),
            results["unexpected_count"].to_pylist(),
            strict=True,
        )
    ]
    index = results.schema.get_field_index("observed_value")
    column = pa.array(observed, results.schema.field(index).type)
    changed = results.set_column(index, "observed_value", column)
    return tables | {
        "silver/quality_results": changed.sort_by([(c, "ascending") for c in _sort_keys(changed)])
    }


def _sorted_samples(value: str | None, unexpected: int | None) -> str | None:
    """The samples in one order; where there were more unexpected values than samples, which
    ones are sampled is each engine's row order: only how many is compared."""
    parsed = None if value is None else json.loads(value)
    if not isinstance(parsed, list):
        return value
    if unexpected is not None and unexpected > len(parsed):
        return f"{len(parsed)} samples of {unexpected}"
    return json.dumps(sorted(parsed, key=repr))


def test_datasets_side_by_side_build_the_same_lake_as_one_after_another(
    engine: str, bronze: Path, sequential: dict[str, pa.Table], tmp_path: Path
) -> None:
    settings = lake_with(bronze, tmp_path, parallelism=len(SILVER_DATASETS), engine=engine)
    reports = steps.run_silver_all(Lakehouse.from_settings(settings))

    assert list(reports) == list(SILVER_DATASETS)  # the reports keep the datasets' order
    assert all(report.batches >= 1 for report in reports.values())
    assert sum(report.batches for report in reports.values()) > len(SILVER_DATASETS)
    assert sequential["silver/quarantine"].num_rows > 0
    assert {f"silver/{d}" for d in SILVER_DATASETS} <= set(sequential)
    assert_same_tables(silver_snapshot(settings), sequential)
    # the ledger has one row per batch of every dataset
    ledger = sequential["silver/reconciliation"]
    assert ledger.num_rows == sum(report.batches for report in reports.values())
    assert set(ledger.column_names) == {f.name for f in RECONCILIATION.schema} - RUN_COLUMNS
    assert set(sequential["silver/quality_results"]["dataset"].to_pylist()) == set(SILVER_DATASETS)
    assert {f.name for f in QUALITY_RESULTS.schema} - RUN_COLUMNS <= set(
        sequential["silver/quality_results"].column_names
    )


def test_a_failing_dataset_neither_stops_nor_corrupts_the_others(
    engine: str, bronze: Path, sequential: dict[str, pa.Table], tmp_path: Path
) -> None:
    settings = lake_with(bronze, tmp_path, parallelism=3, engine=engine)
    originals = break_objects(Path(settings.lake.root) / "bronze", BROKEN)

    with pytest.raises(DataQualityError, match=f"silver/{BROKEN} batch") as raised:
        steps.run_silver_all(Lakehouse.from_settings(settings))
    # the others' outcomes travel with the error, in the datasets' order
    notes = [note.split(":")[0] for note in raised.value.__notes__]
    assert notes == [f"silver/{d}" for d in SILVER_DATASETS if d != BROKEN]
    assert all("done:" in note for note in raised.value.__notes__)
    others = set(SILVER_DATASETS) - {BROKEN}
    assert_same_tables(
        of_datasets(silver_snapshot(settings), others), of_datasets(sequential, others)
    )
    assert f"silver/{BROKEN}" not in silver_snapshot(settings)  # nothing of it merged

    # once the objects are restored, a rerun completes the broken dataset only
    for path, content in originals.items():
        path.write_bytes(content)
    reports = steps.run_silver_all(Lakehouse.from_settings(settings))
    assert all(reports[d].batches == 0 for d in others)
    got, want = silver_snapshot(settings), dict(sequential)
    # each run adds its table-level results; the batches' results are the same
    for tables in (got, want):
        results = tables["silver/quality_results"]
        tables["silver/quality_results"] = results.filter(pc.is_valid(results["batch_id"]))
    shared = ("silver/quarantine", "silver/quarantined_objects")
    assert_same_tables(
        {n: t for n, t in got.items() if n not in shared},
        {n: t for n, t in want.items() if n not in shared},
    )
    # the failed run's refusals stay in the quarantine (as when the dataset runs alone)
    assert_same_tables(
        {n: of_datasets(got, others)[n] for n in shared},
        {n: of_datasets(want, others)[n] for n in shared},
    )


def break_objects(bronze: Path, dataset: str) -> dict[Path, bytes]:
    """Cut every line of every bronze object of ``dataset`` in half (a systematic failure);
    returns their original contents."""
    originals = {}
    for path in sorted(bronze.glob(f"*/dataset={dataset}/*/*")):
        originals[path] = path.read_bytes()
        lines = path.read_text().splitlines()
        path.write_text("".join(line[: len(line) // 2] + "\n" for line in lines))
    assert originals, f"no bronze object of {dataset}"
    return originals
