"""Linking articles to reference assets: whole words, tickers case-sensitive, names not."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.ingestion.articles import asset_patterns, asset_terms, linked_assets
from pipelines.reference import load_assets


@pytest.mark.parametrize(
    ("text", "assets"),
    [
        ("The DAILY wrap: nothing moved", []),  # "DAI" inside a word is not DAI
        ("DAI and dai: the ticker is case-sensitive", ["dai"]),
        ("syrupUSDC yields slip", ["syrupusdc"]),  # not USDC
        ("Maple Syrup USDC pool reprices", ["syrupusdc"]),  # the longer name wins
        ("USDC-backed loans", ["usdc"]),
        ("Ether and bitcoin rally", ["btc", "eth"]),  # names are case-insensitive
        ("whether the fund grows", []),  # "ether" inside a word
        ("FOBXX shares on-chain", ["benji"]),  # an alias in the reference name
        ("Formerly Hashnote US Yield Coin, now Circle's", ["usyc"]),
        ("USDT0 bridges launch", []),  # a digit continues the word
    ],
)
def test_asset_links(spark: SparkSession, text: str, assets: list[str]) -> None:
    patterns = asset_patterns(load_assets())
    found = (
        spark.createDataFrame([(text,)], ["text"])
        .select(linked_assets(F.col("text"), patterns).alias("ids"))
        .first()
    )
    assert found is not None
    assert sorted(found["ids"]) == sorted(assets)


def test_terms_of_an_asset() -> None:
    by_id = {a.asset_id: a for a in load_assets()}
    assert asset_terms(by_id["dai"]) == ([], ["DAI"])  # the name "Dai" is the ticker
    names, tickers = asset_terms(by_id["benji"])
    assert tickers == ["BENJI", "FOBXX"]
    assert "Franklin OnChain U.S. Government Money Fund" in names
    names, tickers = asset_terms(by_id["realt-4680-buckingham"])
    assert tickers == [] and "RealToken S 4680 Buckingham Ave" in names
