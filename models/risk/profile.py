"""Credit, regulatory and technical risk: what the asset *is*, from the reference data.

Facts come from ``pipelines/reference/assets.json`` (each with its sources). A fact that is not
known scores as a moderate-to-high risk and says so: missing disclosure is itself a risk. Text
facts (what backs the token, the legal structure) are classified by keywords, always taking the
riskiest class a text mentions, so "Treasuries and crypto collateral" counts as crypto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from models.risk.factors import Factor, log_scale
from pipelines.contracts.reference import Asset
from pipelines.gold.macro import jurisdiction_country

#: Collateral classes, riskiest first: (points, keywords, label).
COLLATERAL: tuple[tuple[float, tuple[str, ...], str], ...] = (
    (85.0, ("synthetic", "delta-hedged", "perpetual", "algorithmic"), "synthetic / derivatives"),
    (70.0, ("crypto", "ether", "eth,", "wsteth", "btc"), "crypto collateral"),
    (
        60.0,
        ("loan", "lent to", "borrower", "credit", "receivable", "clo"),
        "loans / private credit",
    ),
    (50.0, ("rental property", "real estate", "property"), "real estate"),
    (25.0, ("etf", "money market fund", "bond"), "fund shares / bonds"),
    (12.0, ("gold bar", "troy ounce", "good delivery"), "allocated physical gold"),
    (
        8.0,
        ("treasur", "government securities", "cash", "deposit", "repurchase", "repo"),
        "cash and short-dated US government debt",
    ),
)
NOT_BACKED = "none (not backed"

#: Jurisdiction tiers by ISO3 (points): rule-of-law, securities regulators with token regimes.
STRONG_JURISDICTIONS = {"USA", "GBR", "CHE", "SGP", "LUX", "IRL", "DEU", "FRA", "NLD", "JPN", "CAN"}
OFFSHORE_JURISDICTIONS = {"VGB", "CYM", "BMU", "BHS", "JEY", "GGY", "IMN", "SLV", "PAN"}

#: Legal structures, riskiest first: (points, keywords, label).
STRUCTURES: tuple[tuple[float, tuple[str, ...], str], ...] = (
    (80.0, ("decentralised", "smart contract", "pool share", "lending-pool"), "no legal issuer"),
    (55.0, ("synthetic",), "synthetic dollar without a regulated issuer"),
    (40.0, ("private", "regulation d", "qualified purchasers", "accredited"), "private offering"),
    (30.0, ("note", "certificate", "llc", "membership interest"), "issuer note / SPV"),
    (
        15.0,
        ("registered", "trust company", "ucits", "investment company act"),
        "registered or chartered",
    ),
)

REDEMPTION = {
    "on demand": 5.0,
    "daily": 10.0,
    "on request": 35.0,
    "weekly": 30.0,
    "epoch-based": 55.0,
    "monthly": 50.0,
    "quarterly": 70.0,
}


def credit_factors(asset: Asset, nav_premium: float | None) -> list[Factor]:
    factors = [_collateral(asset), _redemption(asset), _issuer(asset)]
    reserve_audits = [a for a in asset.audits if a.scope and "reserve" in a.scope.lower()]
    factors.append(
        Factor(
            "credit",
            "reserve_attestations",
            float(len(reserve_audits)),
            20.0 if reserve_audits else 55.0,
            0.1,
            f"{len(reserve_audits)} reserve audit(s)/attestation(s) on record",
        )
    )
    if nav_premium is not None:
        gap = abs(nav_premium)
        factors.append(
            Factor(
                "credit",
                "premium_to_nav",
                nav_premium,
                log_scale(gap, 1e-3, 0.1),
                0.1,
                f"token trades {nav_premium:+.2%} against its NAV",
            )
        )
    return factors


def _collateral(asset: Asset) -> Factor:
    text = (asset.underlying_asset_details or "").lower()
    if text.startswith(NOT_BACKED):
        return Factor(
            "credit",
            "collateral",
            "none (native asset)",
            40.0,
            0.45,
            "no issuer and no collateral: no default risk, no backing either",
        )
    for points, words, label in COLLATERAL:
        if any(word in text for word in words):
            return Factor("credit", "collateral", label, points, 0.45, f"backed by {label}")
    return Factor("credit", "collateral", None, 65.0, 0.45, "what backs the token is not disclosed")


def _redemption(asset: Asset) -> Factor:
    frequency = asset.redemption.frequency if asset.redemption else None
    if frequency is None:
        points, note = 60.0, "redemption terms not disclosed"
    else:
        points = REDEMPTION.get(frequency.lower(), 45.0)
        note = f"redeemable {frequency}"
    return Factor("credit", "redemption", frequency, points, 0.25, note)


def _issuer(asset: Asset) -> Factor:
    if asset.asset_class == "crypto":
        return Factor("credit", "issuer", None, 30.0, 0.2, "native asset: no issuer to default")
    if asset.issuer_name is None:
        return Factor("credit", "issuer", None, 70.0, 0.2, "issuer not identified")
    return Factor("credit", "issuer", asset.issuer_name, 25.0, 0.2, "identified issuer")


def regulatory_factors(asset: Asset) -> list[Factor]:
    return [_jurisdiction(asset), _structure(asset), _regulator(asset), _access(asset)]


def _jurisdiction(asset: Asset) -> Factor:
    country = jurisdiction_country(asset.jurisdiction)
    if asset.jurisdiction and asset.jurisdiction.lower().startswith("none"):
        return Factor(
            "regulatory",
            "jurisdiction",
            asset.jurisdiction,
            70.0,
            0.35,
            "decentralised: no jurisdiction answers for it",
        )
    if country in STRONG_JURISDICTIONS:
        return Factor(
            "regulatory",
            "jurisdiction",
            country,
            15.0,
            0.35,
            f"{asset.jurisdiction}: established securities regime",
        )
    if country in OFFSHORE_JURISDICTIONS:
        return Factor(
            "regulatory",
            "jurisdiction",
            country,
            50.0,
            0.35,
            f"{asset.jurisdiction}: offshore vehicle",
        )
    return Factor(
        "regulatory",
        "jurisdiction",
        asset.jurisdiction,
        60.0,
        0.35,
        f"jurisdiction {asset.jurisdiction or 'not disclosed'}",
    )


def _structure(asset: Asset) -> Factor:
    text = (asset.legal_structure or "").lower()
    if asset.asset_class == "crypto":
        return Factor(
            "regulatory",
            "legal_structure",
            asset.legal_structure,
            45.0,
            0.35,
            "native crypto asset: classification varies by jurisdiction",
        )
    for points, words, label in STRUCTURES:
        if any(word in text for word in words):
            return Factor("regulatory", "legal_structure", label, points, 0.35, label)
    return Factor(
        "regulatory", "legal_structure", None, 65.0, 0.35, "legal structure not disclosed"
    )


def _regulator(asset: Asset) -> Factor:
    if asset.regulator:
        return Factor("regulatory", "regulator", asset.regulator, 15.0, 0.15, "supervised")
    return Factor("regulatory", "regulator", None, 60.0, 0.15, "no supervising regulator named")


def _access(asset: Asset) -> Factor:
    if asset.kyc_required:
        return Factor(
            "regulatory", "kyc", True, 15.0, 0.15, "KYC'd holders only: compliant distribution"
        )
    if asset.kyc_required is False:
        return Factor(
            "regulatory",
            "kyc",
            False,
            50.0,
            0.15,
            "permissionless transfers: exposure to sanctions and securities rules",
        )
    return Factor("regulatory", "kyc", None, 45.0, 0.15, "holder eligibility not disclosed")


def technical_factors(asset: Asset, as_of: dt.date) -> list[Factor]:
    return [
        _audits(asset, as_of),
        _oracle(asset),
        _upgradeable(asset),
        _chains(asset.chains),
        _age(asset, as_of),
    ]


def _audits(asset: Asset, as_of: dt.date) -> Factor:
    contract = [a for a in asset.audits if not a.scope or "reserve" not in a.scope.lower()]
    if (
        asset.asset_class == "crypto"
        and asset.launch_date
        and as_of.year - asset.launch_date.year > 5
    ):
        return Factor(
            "technical",
            "audits",
            0.0,
            20.0,
            0.35,
            "protocol client code battle-tested for over five years",
        )
    if not contract:
        return Factor("technical", "audits", 0.0, 75.0, 0.35, "no smart-contract audit on record")
    latest = max((a.year for a in contract if a.year), default=None)
    stale = latest is not None and as_of.year - latest > 3
    points = (25.0 if len(contract) > 1 else 40.0) + (15.0 if stale else 0.0)
    return Factor(
        "technical",
        "audits",
        float(len(contract)),
        points,
        0.35,
        f"{len(contract)} audit(s), latest {latest or 'undated'}",
    )


def _oracle(asset: Asset) -> Factor:
    if asset.oracle is None:
        return Factor("technical", "oracle_dependency", None, 20.0, 0.2, "no oracle in the loop")
    text = asset.oracle.lower()
    decentralised = any(name in text for name in ("chainlink", "chronicle", "pyth", "redstone"))
    points = 35.0 if decentralised else 50.0
    return Factor(
        "technical",
        "oracle_dependency",
        asset.oracle,
        points,
        0.2,
        "depends on "
        + (
            "a decentralised oracle network"
            if decentralised
            else "an issuer- or contract-computed price"
        ),
    )


def _upgradeable(asset: Asset) -> Factor:
    if asset.upgradeable_contract is None:
        return Factor("technical", "upgradeable", None, 45.0, 0.2, "upgradeability not disclosed")
    if asset.upgradeable_contract:
        return Factor(
            "technical", "upgradeable", True, 60.0, 0.2, "admin can replace the contract logic"
        )
    return Factor("technical", "upgradeable", False, 15.0, 0.2, "immutable contract")


def _chains(chains: Sequence[str]) -> Factor:
    count = max(1, len(chains))
    points = 10.0 if count == 1 else 30.0 if count <= 3 else 50.0
    return Factor(
        "technical",
        "chains",
        float(count),
        points,
        0.15,
        f"issued on {count} chain(s): bridges and more contracts to secure",
    )


def _age(asset: Asset, as_of: dt.date) -> Factor:
    if asset.launch_date is None:
        return Factor("technical", "contract_age_years", None, 45.0, 0.1, "launch date unknown")
    years = (as_of - asset.launch_date).days / 365.25
    points = 60.0 if years < 1 else 35.0 if years < 3 else 15.0
    return Factor(
        "technical",
        "contract_age_years",
        round(years, 1),
        points,
        0.1,
        f"live for {years:.1f} years",
    )
