"""Typed model of the asset reference data (``assets.json``).

The fields extend the seed's ``assets`` table (asset_id, symbol, name, asset_class,
blockchain_network, contract_address, issuer_name, underlying_asset_details) with what risk
scoring needs. A fact that is not known is ``None``; nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

AssetClass = Literal[
    "tokenized_treasury",
    "money_market_fund",
    "private_credit",
    "real_estate",
    "tokenized_gold",
    "stablecoin",
    "crypto",
]
ASSET_CLASSES: tuple[AssetClass, ...] = get_args(AssetClass)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Audit(_Frozen):
    auditor: str
    year: int | None = None
    scope: str | None = Field(default=None, description="What was audited (contracts, reserves).")


class Redemption(_Frozen):
    frequency: str | None = Field(default=None, description="e.g. 'daily', 'on demand', 'monthly'.")
    settlement: str | None = Field(default=None, description="e.g. 'T+0 in USDC', 'T+1 USD wire'.")
    minimum_usd: float | None = Field(default=None, ge=0)
    notes: str | None = None


class Evidence(_Frozen):
    """The evidence flags analysts screen on (rwa.xyz's "asset evidence"), each ``None`` when
    not known. Whether holding needs KYC is :attr:`Asset.kyc_required` (one fact, one field)."""

    attestations: bool | None = Field(
        default=None,
        description="Independent reports of the reserves or the fund's holdings are published "
        "(attestations, audited NAV reports); false where none exist or nothing backs the token.",
    )
    redeemable: bool | None = Field(
        default=None,
        description="The token can be turned back into cash or the underlying with its issuer "
        "(by eligible holders); false where there is no issuer to redeem with.",
    )
    transferable: bool | None = Field(
        default=None,
        description="Any address can receive it (false: allowlisted addresses only, or none).",
    )
    kyc_to_mint_redeem: bool | None = Field(
        default=None, description="Primary minting or redemption needs the issuer's KYC."
    )
    self_custody: bool | None = Field(
        default=None, description="Holders keep the token in wallets they control."
    )
    cex_listed: bool | None = Field(
        default=None, description="Traded on at least one centralised exchange."
    )
    sources: list[str] = Field(
        default_factory=list, description="Where the flags come from, beside the asset's sources."
    )


class Asset(_Frozen):
    """One tokenized asset, stablecoin or crypto major."""

    asset_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Stable slug, e.g. 'ousg'.")
    symbol: str
    name: str
    asset_class: AssetClass
    blockchain_network: str = Field(description="Primary chain of the token.")
    chains: list[str] = Field(default_factory=list, description="All chains it is issued on.")
    contract_address: str | None = Field(default=None, description="On the primary chain.")
    issuer_name: str | None = None
    jurisdiction: str | None = Field(default=None, description="Issuer / vehicle jurisdiction.")
    legal_structure: str | None = None
    regulator: str | None = None
    underlying_asset_details: str | None = Field(default=None, description="What backs the token.")
    kyc_required: bool | None = None
    transfer_restrictions: str | None = None
    redemption: Redemption | None = None
    audits: list[Audit] = Field(default_factory=list)
    oracle: str | None = Field(default=None, description="Price/NAV/reserve oracle it relies on.")
    upgradeable_contract: bool | None = None
    launch_date: dt.date | None = None
    coingecko_id: str | None = None
    defillama_slug: str | None = None
    sources: list[str] = Field(default_factory=list, description="Where the facts come from.")
    evidence: Evidence = Field(
        default_factory=Evidence, description="Evidence flags; unknown ones are null."
    )


class AssetCatalog(_Frozen):
    """The reference file: a version plus the assets."""

    version: str
    as_of: dt.date
    assets: list[Asset]
