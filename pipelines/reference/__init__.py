"""The versioned asset reference data (``assets.json``): loading, validation and look-ups.

``load_catalog()`` reads the file shipped inside the package (cached: it is read once per
process); ``load_catalog(path)`` reads another file, e.g. a candidate edit, and is not cached.
Every problem is reported at once, each naming the asset and the field, as a
:class:`ReferenceDataError` (a :class:`~pipelines.core.errors.DataContractError`).

Beyond the field types of :mod:`pipelines.contracts.reference`, a catalog must satisfy:

* ``asset_id`` is unique;
* ``(blockchain_network, contract_address)`` is unique where the address is known
  (addresses compared case-insensitively);
* on EVM chains (:data:`EVM_CHAINS`) a contract address is ``0x`` followed by 40 hex digits;
* chain names are lowercase slugs, ``chains`` has no duplicates and, when given, lists
  ``blockchain_network``;
* every asset cites at least one source.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipelines.contracts.reference import ASSET_CLASSES, Asset, AssetCatalog, AssetClass
from pipelines.core.errors import DataContractError, NotFoundError

__all__ = [
    "ASSET_CLASSES",
    "EVM_CHAINS",
    "Asset",
    "AssetCatalog",
    "AssetClass",
    "ReferenceDataError",
    "clear_cache",
    "get_reference_asset",
    "load_assets",
    "load_catalog",
    "validate_catalog",
]

#: Name of the reference file inside this package.
PACKAGED_FILE = "assets.json"

#: Chains whose contract addresses are 20-byte EVM addresses (``0x`` + 40 hex digits).
EVM_CHAINS: frozenset[str] = frozenset(
    {
        "ethereum",
        "arbitrum",
        "optimism",
        "base",
        "polygon",
        "avalanche",
        "bsc",
        "gnosis",
        "mantle",
        "plume",
        "celo",
        "linea",
        "scroll",
        "zksync",
        "blast",
        "sonic",
        "berachain",
        "sei-evm",
        "polygon-zkevm",
    }
)

_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CHAIN_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MAX_INPUT_SHOWN = 80


class ReferenceDataError(DataContractError):
    """The reference file breaks the data contract; ``problems`` lists every violation."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        header = f"asset reference data {source} is invalid ({count} problem{'s' * (count != 1)})"
        super().__init__(header + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


# --------------------------------------------------------------------------------------------
# Loading


def load_catalog(path: Path | None = None) -> AssetCatalog:
    """The validated catalog: the packaged ``assets.json`` (cached) or the file at ``path``.

    Raises :class:`NotFoundError` when ``path`` does not exist and :class:`ReferenceDataError`
    (a ``DataContractError``) when the file is not valid JSON or breaks the data contract.
    """
    if path is None:
        return _packaged_catalog()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"asset reference file not found: {path}") from None
    return _parse(text, source=str(path))


def load_assets() -> list[Asset]:
    """All assets of the packaged catalog, in file order (a new list on every call)."""
    return list(load_catalog().assets)


def get_reference_asset(asset_id: str, catalog: AssetCatalog | None = None) -> Asset:
    """The asset with this id (case-insensitive) from ``catalog`` or the packaged catalog.

    Raises :class:`NotFoundError` naming the closest known ids (and ids whose symbol is close).
    """
    key = asset_id.strip().lower()
    if catalog is None:
        index = _packaged_index()
        catalog = load_catalog()
    else:
        index = {asset.asset_id: asset for asset in catalog.assets}
    found = index.get(key)
    if found is not None:
        return found
    raise NotFoundError(_unknown_asset_message(asset_id, catalog))


def clear_cache() -> None:
    """Forget the cached packaged catalog (it is re-read on next use)."""
    _packaged_catalog.cache_clear()
    _packaged_index.cache_clear()


@lru_cache(maxsize=1)
def _packaged_catalog() -> AssetCatalog:
    resource = resources.files(__name__).joinpath(PACKAGED_FILE)
    text = resource.read_text(encoding="utf-8")
    return _parse(text, source=f"pipelines/reference/{PACKAGED_FILE}")


@lru_cache(maxsize=1)
def _packaged_index() -> dict[str, Asset]:
    return {asset.asset_id: asset for asset in _packaged_catalog().assets}


def _parse(text: str, source: str) -> AssetCatalog:
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise ReferenceDataError(source, [problem]) from None
    try:
        catalog = AssetCatalog.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_validation_error(err, raw) for err in exc.errors()]
        raise ReferenceDataError(source, problems) from None
    problems = validate_catalog(catalog)
    if problems:
        raise ReferenceDataError(source, problems)
    return catalog


# --------------------------------------------------------------------------------------------
# Catalog-level rules


def validate_catalog(catalog: AssetCatalog) -> list[str]:
    """The catalog-level rule violations of an already type-checked catalog (empty if none)."""
    problems: list[str] = []
    first_index_of_id: dict[str, int] = {}
    owner_of_address: dict[tuple[str, str], str] = {}

    for i, asset in enumerate(catalog.assets):
        where = _asset_label(asset.asset_id, i)

        if asset.asset_id in first_index_of_id:
            first = first_index_of_id[asset.asset_id]
            problems.append(f"{where}, field 'asset_id': duplicate of assets[{first}]")
        else:
            first_index_of_id[asset.asset_id] = i

        network = asset.blockchain_network
        if not _CHAIN_SLUG.match(network):
            problems.append(
                f"{where}, field 'blockchain_network': {network!r} is not a lowercase chain slug"
            )
        bad_chains = [c for c in asset.chains if not _CHAIN_SLUG.match(c)]
        if bad_chains:
            problems.append(f"{where}, field 'chains': not lowercase chain slugs: {bad_chains}")
        repeated = sorted(c for c, n in Counter(asset.chains).items() if n > 1)
        if repeated:
            problems.append(f"{where}, field 'chains': listed more than once: {repeated}")
        if asset.chains and network not in asset.chains:
            problems.append(f"{where}, field 'chains': must include blockchain_network {network!r}")

        address = asset.contract_address
        if address is not None:
            if network in EVM_CHAINS and not _EVM_ADDRESS.match(address):
                problems.append(
                    f"{where}, field 'contract_address': {address!r} is not a valid EVM address "
                    f"on {network!r} (expected 0x followed by 40 hex digits)"
                )
            elif not address.strip() or address != address.strip():
                problems.append(
                    f"{where}, field 'contract_address': {address!r} is blank or has "
                    "surrounding whitespace (use null when unknown)"
                )
            key = (network, address.lower())
            if key in owner_of_address:
                problems.append(
                    f"{where}, field 'contract_address': {address} on {network!r} is already "
                    f"the address of asset {owner_of_address[key]!r}"
                )
            else:
                owner_of_address[key] = asset.asset_id

        if not asset.sources:
            problems.append(f"{where}, field 'sources': at least one source is required")
    return problems


# --------------------------------------------------------------------------------------------
# Messages


def _asset_label(asset_id: object, index: int) -> str:
    if isinstance(asset_id, str) and asset_id:
        return f"asset {asset_id!r} (assets[{index}])"
    return f"asset at assets[{index}] (no asset_id)"


def _describe_validation_error(err: Mapping[str, Any], raw: Any) -> str:
    loc: tuple[int | str, ...] = tuple(err.get("loc", ()))
    message = str(err.get("msg", "invalid value"))
    shown = ""
    if err.get("type") not in {"missing", "extra_forbidden"} and "input" in err:
        value = err["input"]
        if not isinstance(value, dict | list):
            text = repr(value)
            if len(text) > _MAX_INPUT_SHOWN:
                text = text[: _MAX_INPUT_SHOWN - 3] + "..."
            shown = f" (got {text})"

    if len(loc) >= 2 and loc[0] == "assets" and isinstance(loc[1], int):
        index = loc[1]
        asset_id: object = None
        assets = raw.get("assets") if isinstance(raw, dict) else None
        if isinstance(assets, list) and index < len(assets) and isinstance(assets[index], dict):
            asset_id = assets[index].get("asset_id")
        where = _asset_label(asset_id, index)
        if len(loc) == 2:
            return f"{where}: {message}{shown}"
        return f"{where}, field {_format_loc(loc[2:])!r}: {message}{shown}"
    if not loc:
        return f"catalog: {message}{shown}"
    return f"catalog field {_format_loc(loc)!r}: {message}{shown}"


def _format_loc(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _unknown_asset_message(asset_id: str, catalog: AssetCatalog) -> str:
    key = asset_id.strip().lower()
    ids = [a.asset_id for a in catalog.assets]
    by_symbol = {a.symbol.lower(): a.asset_id for a in catalog.assets}
    suggestions: list[str] = []
    if key in by_symbol:
        suggestions.append(by_symbol[key])
    suggestions += difflib.get_close_matches(key, ids, n=5, cutoff=0.6)
    suggestions += [
        by_symbol[s] for s in difflib.get_close_matches(key, list(by_symbol), n=5, cutoff=0.6)
    ]
    suggestions += [i for i in ids if key and (i.startswith(key) or key in i)]
    unique = list(dict.fromkeys(suggestions))[:5]
    base = f"unknown asset {asset_id!r} in asset reference data version {catalog.version}"
    if unique:
        return base + "; did you mean " + ", ".join(repr(s) for s in unique) + "?"
    return base + f"; known asset ids: {', '.join(sorted(ids))}"
