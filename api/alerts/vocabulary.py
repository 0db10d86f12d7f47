"""The words the plain-language parser knows for assets and asset classes.

Asset words come from the reference data (``pipelines.reference``): each asset's id, symbol
and name (also without a parenthetical or a "formerly …" note), plus a few common names the
catalog does not spell ("bitcoin" is there as a name, "ethereum" is not). Class words are
the singular and plural ways people name a class ("any stablecoin", "all treasury tokens").
A word that could mean two assets is left out rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipelines.contracts.reference import AssetClass
from pipelines.reference import load_assets

#: Everyday names the catalog does not spell, mapped to asset ids.
EXTRA_ASSET_ALIASES: dict[str, str] = {
    "ethereum": "eth",
    "ether": "eth",
    "tether": "usdt",
    "usd coin": "usdc",
    "usdc coin": "usdc",
    "tether gold": "xaut",
    "pax gold": "paxg",
    "paxos gold": "paxg",
    "sky dollar": "usds",
    "ethena": "usde",
    "paypal usd": "pyusd",
    "paypal dollar": "pyusd",
    "ripple usd": "rlusd",
    "blackrock buidl": "buidl",
    "blackrock fund": "buidl",
    "franklin benji": "benji",
    "ondo ousg": "ousg",
    "ondo usdy": "usdy",
}

#: The ways to name each class (lower case, single spaces); plurals are spelt out.
CLASS_WORDS: dict[AssetClass, tuple[str, ...]] = {
    "stablecoin": ("stablecoin", "stablecoins", "stable coin", "stable coins", "stables"),
    "crypto": (
        "crypto",
        "cryptos",
        "crypto major",
        "crypto majors",
        "cryptocurrency",
        "cryptocurrencies",
        "major",
        "majors",
    ),
    "tokenized_treasury": (
        "tokenized treasury",
        "tokenized treasuries",
        "tokenised treasury",
        "tokenised treasuries",
        "treasury token",
        "treasury tokens",
        "treasury fund",
        "treasury funds",
        "treasuries",
    ),
    "money_market_fund": (
        "money market fund",
        "money market funds",
        "money-market fund",
        "money-market funds",
        "mmf",
        "mmfs",
    ),
    "private_credit": (
        "private credit",
        "private credit pool",
        "private credit pools",
        "private credit token",
        "private credit tokens",
        "credit pool",
        "credit pools",
    ),
    "real_estate": (
        "real estate",
        "real estate token",
        "real estate tokens",
        "real-estate token",
        "real-estate tokens",
        "property token",
        "property tokens",
    ),
    "tokenized_gold": (
        "tokenized gold",
        "tokenised gold",
        "gold token",
        "gold tokens",
        "gold",
    ),
}


def normalise(words: str) -> str:
    """Lower case, one space between words, typographic apostrophes made plain."""
    return " ".join(words.replace("\u2019", "'").lower().split())


def _name_forms(name: str) -> Iterable[str]:
    yield name
    # "Franklin OnChain U.S. Government Money Fund (FOBXX)" is also said without "(FOBXX)".
    bare = re.sub(r"\s*\([^)]*\)", "", name).strip()
    if bare:
        yield bare


@dataclass(frozen=True)
class Vocabulary:
    """Words → asset ids, and words → asset classes."""

    assets: dict[str, str]
    classes: dict[str, AssetClass]

    def asset_id(self, words: str) -> str:
        return self.assets[normalise(words)]

    def asset_class(self, words: str) -> AssetClass:
        return self.classes[normalise(words)]


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The vocabulary of the packaged reference data (built once per process)."""
    meanings: dict[str, set[str]] = {}
    for asset in load_assets():
        for form in (asset.asset_id, asset.symbol, *_name_forms(asset.name)):
            meanings.setdefault(normalise(form), set()).add(asset.asset_id)
    known = {asset.asset_id for asset in load_assets()}
    for word, asset_id in EXTRA_ASSET_ALIASES.items():
        if asset_id in known:
            meanings.setdefault(word, set()).add(asset_id)
    # A word naming two assets would be a guess: it is left out.
    assets = {word: ids.pop() for word, ids in meanings.items() if len(ids) == 1}
    classes = {normalise(w): cls for cls, words in CLASS_WORDS.items() for w in words}
    return Vocabulary(assets, classes)


def alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words`` as whole words (longest first, so
    "tether gold" wins over "tether"); spaces match any run of whitespace."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    body = "|".join(r"\s+".join(re.escape(part) for part in w.split(" ")) for w in ordered)
    return rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])"
