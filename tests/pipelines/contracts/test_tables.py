"""The table contracts are the one declaration every layer reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.contracts import gold, measures, silver
from pipelines.contracts.tables import TableContract
from pipelines.quality.suites import SUITES
from pipelines.reference import load_assets
from pipelines.silver.registry import SILVER_DATASETS, dataset_spec

CONTRACTS = Path(silver.__file__).parent


def test_each_silver_dataset_is_fed_to_its_declared_table() -> None:
    assert tuple(silver.DATASET_TABLES) == SILVER_DATASETS
    for name, table in silver.DATASET_TABLES.items():
        assert dataset_spec(name, load_assets()).table is table
        assert SUITES[name].key == table.keys
        assert table.schema.names[-len(silver.LINEAGE) :] == [f.name for f in silver.LINEAGE]


def test_onchain_metrics_are_declared_once_and_carried_to_silver_and_gold() -> None:
    schema = silver.ONCHAIN.schema
    assert {schema.field(m).type for m in measures.COUNT_METRICS} == {pa.int64()}
    assert {schema.field(m).type for m in measures.USD_METRICS} == {pa.float64()}
    assert set(measures.PER_UNIT_METRICS) <= set(measures.ONCHAIN_METRICS)
    assert set(measures.ONCHAIN_METRICS) | set(measures.DERIVED_ONCHAIN_METRICS) <= set(
        gold.ONCHAIN_COLUMNS
    )
    assert set(measures.FEATURE_MEASURES) <= set(gold.FEATURE_COLUMNS)


def test_a_contract_refuses_undeclared_key_columns() -> None:
    with pytest.raises(ValueError, match="not declared"):
        TableContract("t", pa.schema([pa.field("a", pa.string())]), keys=("b",))


@pytest.mark.parametrize("path", sorted(CONTRACTS.glob("*.py")), ids=lambda p: p.name)
def test_contracts_import_only_core(path: Path) -> None:
    """Every layer imports the contracts; they import no layer (only ``pipelines.core``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipelines"):
            assert node.module.startswith(("pipelines.contracts", "pipelines.core")), node.module
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("pipelines") for alias in node.names)
