"""``silver/news``: one news article, keyed by its canonical URL, linked to the assets it names.

Its parsers are the sources' (:func:`pipelines.ingestion.registry.dataset_parsers`): NewsAPI
articles (:mod:`pipelines.ingestion.newsapi.parsers`, for the ``newsapi`` source and the
simulated one that imitates it) and RSS/Atom feed items (:mod:`pipelines.ingestion.news.parsers`).
Article identity and asset links are :mod:`pipelines.ingestion.articles`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.ingestion.registry import dataset_parsers
from pipelines.silver.spec import UTC_TS, DatasetSpec, silver_schema

SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("article_id", pa.string()),
    pa.field("published_at", UTC_TS),
    pa.field("title", pa.string()),
    pa.field("description", pa.string()),
    pa.field("content", pa.string()),
    pa.field("url", pa.string()),
    pa.field("outlet", pa.string()),
    pa.field("author", pa.string()),
    pa.field("language", pa.string()),
    pa.field("asset_ids", pa.list_(pa.string())),
)
KEYS = ("date", "article_id")


def news_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="news",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=dataset_parsers("news", assets),
    )
