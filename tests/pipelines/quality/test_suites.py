"""The declared suites are consistent: every check is a valid GX expectation, reads only silver
columns of the data contract or derived ones, and the docs list every rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.errors import ConfigurationError
from pipelines.quality.derived import DERIVED_INPUTS, columns_needed
from pipelines.quality.suites import SUITES, suite_for
from pipelines.quality.validator import to_expectation
from tests.pipelines.quality.silver_rows import SCHEMAS

DOCS = Path(__file__).resolve().parents[3] / "docs" / "quality.md"


@pytest.mark.parametrize("dataset", sorted(SUITES))
def test_every_check_builds_a_gx_expectation(dataset):
    for position, check in enumerate(suite_for(dataset).checks):
        expectation = to_expectation(check, position)
        assert expectation.expectation_type == check.expectation


@pytest.mark.parametrize("dataset", sorted(SUITES))
def test_checks_read_contract_columns_or_derived_ones(dataset):
    suite = suite_for(dataset)
    assert set(suite.derived) <= set(DERIVED_INPUTS)
    assert set(columns_needed(suite)) <= set(SCHEMAS[dataset].names)


def test_an_unknown_dataset_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="known: prices, onchain, economic, news"):
        suite_for("trades")


def test_the_docs_list_every_rule():
    text = DOCS.read_text(encoding="utf-8")
    missing = [c.says for s in SUITES.values() for c in s.checks if c.says not in text]
    assert not missing
