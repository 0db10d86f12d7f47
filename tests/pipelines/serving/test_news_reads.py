"""The headlines the store serves (``news_articles``), on both stores: one asset's articles
in a window, and the newest articles over every asset, each article once per asset it names."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipelines.contracts.served import NEWS
from pipelines.serving.store import ServingStore
from tests.fixtures.sample_data import HOUR, SAMPLE_ASSETS, T0


def _articles() -> pa.Table:
    """Five articles an hour apart; a2 names OUSG and BTC, the others one asset each."""
    named = {"a0": ["ousg"], "a1": ["btc"], "a2": ["ousg", "btc"], "a3": ["ousg"], "a4": ["usdc"]}
    rows = [
        {
            "asset_id": asset_id,
            "ts": T0 + i * HOUR,
            "article_id": article_id,
            "title": f"Headline «{article_id}»",
            "url": f"https://news.example/{article_id}",
            "outlet": None if i == 3 else "Example Wire",
            "sentiment_score": None if i == 3 else (i - 2) / 4,
            "sentiment_label": None if i == 3 else "neutral",
            "model_version": None if i == 3 else "lexicon:test",
        }
        for i, (article_id, assets) in enumerate(named.items())
        for asset_id in assets
    ]
    return pa.Table.from_pylist(rows, schema=NEWS.schema)


def test_news_of_one_asset_and_the_latest_over_all(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    assert store.upsert_news(_articles()) == 6
    assert store.upsert_news(_articles()) == 6  # an upsert: loading twice keeps one copy

    ousg = store.series(NEWS, {"asset_id": "ousg"}, T0 + HOUR, T0 + 4 * HOUR)
    assert ousg["article_id"].to_pylist() == ["a2", "a3"]
    assert ousg["title"].to_pylist() == ["Headline «a2»", "Headline «a3»"]
    assert ousg["sentiment_score"].to_pylist() == [0.0, None]
    newest_two = store.series(NEWS, {"asset_id": "ousg"}, limit=2)
    assert newest_two["article_id"].to_pylist() == ["a2", "a3"]

    latest = store.latest_news(3)
    assert latest["article_id"].to_pylist() == ["a4", "a3", "a2", "a2"]
    assert latest["asset_id"].to_pylist() == ["usdc", "ousg", "btc", "ousg"]
    assert latest.schema == NEWS.schema
    assert store.latest_news(100).num_rows == 6
    assert store.table_counts()["news_articles"] == 6


def test_no_news_is_an_empty_answer(store: ServingStore) -> None:
    assert store.latest_news(10).num_rows == 0
    later = T0 + dt.timedelta(days=1)
    assert store.series(NEWS, {"asset_id": "ousg"}, later).num_rows == 0
