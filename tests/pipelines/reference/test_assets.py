"""The packaged asset reference data and its loader."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pipelines.contracts.reference import Asset, AssetCatalog
from pipelines.core.errors import DataContractError, NotFoundError
from pipelines.reference import (
    ASSET_CLASSES,
    EVM_CHAINS,
    ReferenceDataError,
    clear_cache,
    get_reference_asset,
    load_assets,
    load_catalog,
)

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@pytest.fixture
def raw_catalog() -> dict[str, Any]:
    """A deep copy of the packaged file as plain JSON, to corrupt in tests."""
    text = resources.files("pipelines.reference").joinpath("assets.json").read_text("utf-8")
    return copy.deepcopy(json.loads(text))


def write(tmp_path: Path, raw: object) -> Path:
    path = tmp_path / "assets.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def load_error(tmp_path: Path, raw: object) -> str:
    """The message of the DataContractError that loading ``raw`` raises."""
    with pytest.raises(DataContractError) as info:
        load_catalog(write(tmp_path, raw))
    return str(info.value)


def index_of(raw: dict[str, Any], asset_id: str) -> int:
    return next(i for i, a in enumerate(raw["assets"]) if a["asset_id"] == asset_id)


# --- the packaged data ------------------------------------------------------------------


def test_catalog_loads_with_version_and_as_of() -> None:
    catalog = load_catalog()
    assert isinstance(catalog, AssetCatalog)
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", catalog.version)
    assert catalog.as_of.year >= 2026


def test_at_least_twenty_assets() -> None:
    assert len(load_assets()) >= 20


def test_every_asset_class_is_covered() -> None:
    counts = Counter(a.asset_class for a in load_assets())
    missing = [c for c in ASSET_CLASSES if counts[c] == 0]
    assert not missing, f"no asset of class {missing}"


def test_asset_ids_are_unique() -> None:
    ids = [a.asset_id for a in load_assets()]
    assert len(ids) == len(set(ids))


def test_addresses_are_well_formed_and_unique() -> None:
    seen: set[tuple[str, str]] = set()
    for asset in load_assets():
        if asset.contract_address is None:
            continue
        if asset.blockchain_network in EVM_CHAINS:
            assert EVM_ADDRESS.match(asset.contract_address), asset.asset_id
        key = (asset.blockchain_network, asset.contract_address.lower())
        assert key not in seen, asset.asset_id
        seen.add(key)


def test_every_asset_cites_a_source_and_lists_its_primary_chain() -> None:
    for asset in load_assets():
        assert asset.sources, asset.asset_id
        assert asset.blockchain_network in asset.chains, asset.asset_id


@pytest.mark.parametrize(
    ("asset_id", "network", "address"),
    [
        ("usdc", "ethereum", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        ("usdt", "ethereum", "0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        ("dai", "ethereum", "0x6B175474E89094C44Da98b954EedeAC495271d0F"),
        ("paxg", "ethereum", "0x45804880De22913dAFE09f4980848ECE6EcbAf78"),
        ("xaut", "ethereum", "0x68749665FF8D2d112Fa859AA293F07A622782F38"),
        ("buidl", "ethereum", "0x7712c34205737192402172409a8F7ccef8aA2AEc"),
        ("btc", "bitcoin", None),
        ("eth", "ethereum", None),
    ],
)
def test_well_known_entries(asset_id: str, network: str, address: str | None) -> None:
    asset = get_reference_asset(asset_id)
    assert asset.blockchain_network == network
    assert asset.contract_address == address


def test_load_assets_returns_a_fresh_list() -> None:
    first = load_assets()
    first.clear()
    assert load_assets()


def test_packaged_catalog_is_cached_and_cache_can_be_cleared() -> None:
    assert load_catalog() is load_catalog()
    before = load_catalog()
    clear_cache()
    after = load_catalog()
    assert after is not before
    assert after == before


def test_explicit_path_reads_that_file(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    raw_catalog["version"] = "2099.1.1"
    raw_catalog["assets"] = raw_catalog["assets"][:3]
    catalog = load_catalog(write(tmp_path, raw_catalog))
    assert catalog.version == "2099.1.1"
    assert len(catalog.assets) == 3
    assert load_catalog().version != "2099.1.1"


# --- look-ups ---------------------------------------------------------------------------


def test_lookup_is_case_insensitive() -> None:
    assert get_reference_asset("PAXG").asset_id == "paxg"
    assert get_reference_asset(" Usdc ").asset_id == "usdc"


def test_unknown_asset_raises_not_found_with_close_matches() -> None:
    with pytest.raises(NotFoundError) as info:
        get_reference_asset("usdcc")
    message = str(info.value)
    assert "'usdcc'" in message
    assert "did you mean" in message
    assert "'usdc'" in message
    assert load_catalog().version in message


def test_unknown_asset_without_close_match_lists_known_ids() -> None:
    with pytest.raises(NotFoundError, match=r"known asset ids: .*btc"):
        get_reference_asset("zzzzzz")


def test_lookup_in_a_given_catalog(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    raw_catalog["assets"] = [a for a in raw_catalog["assets"] if a["asset_id"] != "usdc"]
    catalog = load_catalog(write(tmp_path, raw_catalog))
    assert get_reference_asset("usdt", catalog).asset_id == "usdt"
    with pytest.raises(NotFoundError, match="'usdc'"):
        get_reference_asset("usdc", catalog)


# --- clear errors for a bad file ----------------------------------------------------------


def test_duplicate_asset_id(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    i = index_of(raw_catalog, "usdt")
    raw_catalog["assets"][i]["asset_id"] = "usdc"
    message = load_error(tmp_path, raw_catalog)
    assert f"asset 'usdc' (assets[{i}]), field 'asset_id': duplicate of assets[" in message


def test_bad_evm_address(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    i = index_of(raw_catalog, "ousg")
    raw_catalog["assets"][i]["contract_address"] = "0x1234"
    message = load_error(tmp_path, raw_catalog)
    assert "asset 'ousg'" in message
    assert "field 'contract_address'" in message
    assert "'0x1234' is not a valid EVM address on 'ethereum'" in message


def test_duplicate_address_on_same_chain(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    usdc = raw_catalog["assets"][index_of(raw_catalog, "usdc")]["contract_address"]
    i = index_of(raw_catalog, "usdt")
    raw_catalog["assets"][i]["contract_address"] = usdc.lower()
    message = load_error(tmp_path, raw_catalog)
    assert "asset 'usdt'" in message
    assert "field 'contract_address'" in message
    assert "already the address of asset 'usdc'" in message


def test_missing_field_names_asset_and_field(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    i = index_of(raw_catalog, "paxg")
    del raw_catalog["assets"][i]["symbol"]
    message = load_error(tmp_path, raw_catalog)
    assert f"asset 'paxg' (assets[{i}]), field 'symbol': Field required" in message


def test_wrong_type_in_nested_field(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    i = index_of(raw_catalog, "buidl")
    raw_catalog["assets"][i]["redemption"]["minimum_usd"] = -5
    raw_catalog["assets"][i]["asset_class"] = "equity"
    with pytest.raises(ReferenceDataError) as info:
        load_catalog(write(tmp_path, raw_catalog))
    problems = info.value.problems
    assert len(problems) == 2
    assert any("asset 'buidl'" in p and "'redemption.minimum_usd'" in p for p in problems)
    assert any("asset 'buidl'" in p and "'asset_class'" in p and "'equity'" in p for p in problems)


def test_unknown_field_is_rejected(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    raw_catalog["assets"][0]["tvl"] = 1
    with pytest.raises(DataContractError, match=r"field 'tvl': Extra inputs are not permitted"):
        load_catalog(write(tmp_path, raw_catalog))


def test_asset_without_id_is_located_by_index(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    del raw_catalog["assets"][2]["asset_id"]
    with pytest.raises(DataContractError, match=r"asset at assets\[2\] \(no asset_id\), field"):
        load_catalog(write(tmp_path, raw_catalog))


def test_missing_catalog_version(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    del raw_catalog["version"]
    with pytest.raises(DataContractError, match="catalog field 'version': Field required"):
        load_catalog(write(tmp_path, raw_catalog))


def test_primary_chain_must_be_listed(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    i = index_of(raw_catalog, "usdc")
    raw_catalog["assets"][i]["chains"] = ["solana", "Base"]
    with pytest.raises(ReferenceDataError) as info:
        load_catalog(write(tmp_path, raw_catalog))
    message = str(info.value)
    assert "asset 'usdc'" in message
    assert "must include blockchain_network 'ethereum'" in message
    assert "not lowercase chain slugs: ['Base']" in message


def test_sources_are_required(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    raw_catalog["assets"][index_of(raw_catalog, "eth")]["sources"] = []
    with pytest.raises(DataContractError, match=r"asset 'eth'.*field 'sources'"):
        load_catalog(write(tmp_path, raw_catalog))


def test_all_problems_are_reported_at_once(tmp_path: Path, raw_catalog: dict[str, Any]) -> None:
    raw_catalog["assets"][index_of(raw_catalog, "usdt")]["asset_id"] = "usdc"
    raw_catalog["assets"][index_of(raw_catalog, "dai")]["contract_address"] = "0xnothex"
    with pytest.raises(ReferenceDataError) as info:
        load_catalog(write(tmp_path, raw_catalog))
    assert len(info.value.problems) == 2
    assert "(2 problems)" in str(info.value)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "assets.json"
    path.write_text('{"version": "1", "assets": [,]}', encoding="utf-8")
    with pytest.raises(DataContractError, match=r"not valid JSON: .* line 1, column"):
        load_catalog(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="asset reference file not found"):
        load_catalog(tmp_path / "nope.json")


def test_non_evm_address_is_not_held_to_evm_format(
    tmp_path: Path, raw_catalog: dict[str, Any]
) -> None:
    i = index_of(raw_catalog, "benji")
    raw_catalog["assets"][i]["contract_address"] = "BENJI:NOT-AN-EVM-IDENTIFIER"
    catalog = load_catalog(write(tmp_path, raw_catalog))
    assert isinstance(get_reference_asset("benji", catalog), Asset)
