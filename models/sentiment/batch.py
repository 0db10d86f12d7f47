"""The sentiment step: score the articles of the asset-days gold marked as unscored, then fill
``gold/sentiment_daily``'s score columns.

``gold/sentiment_daily`` lists, per asset and UTC day, the ids of the articles naming the asset,
with ``model_version`` null until scored (gold clears it when a day's articles change). The step
scores each article once per model (``gold/article_sentiment``, keyed by article and model
version: a rerun, or an article naming several assets, costs nothing more) and aggregates per
asset-day:

* ``sentiment_score``: mean of the articles' ``P(positive) - P(negative)``, in [-1, 1];
* ``sentiment_confidence``: mean of the articles' top-class probability;
* ``positive_share`` / ``negative_share``: share of articles whose top class is that label;
* ``model_version``: the scorer's (FinBERT checkpoint, or the lexicon fallback).

Days already scored by the same model are left alone; switching models rescores everything.
The text scored is the title and description (what a headline model is trained on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from models.sentiment.scorers import SentimentScorer
from pipelines.contracts.gold import ARTICLE_SENTIMENT, NEWS_ARTICLES, SENTIMENT_DAILY
from pipelines.core.errors import NotFoundError
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths

ARTICLE_TABLE = ARTICLE_SENTIMENT.name
_ARTICLE_FIELDS: list[pa.Field[Any]] = [
    pa.field("article_id", pa.string()),
    pa.field("model_version", pa.string()),
    *(pa.field(name, pa.float64()) for name in ("score", "positive", "negative", "neutral")),
    pa.field("label", pa.string()),
    pa.field("confidence", pa.float64()),
]
ARTICLE_SCHEMA = pa.schema(_ARTICLE_FIELDS)
#: The headlines behind each asset's sentiment, one row per (asset, article), for serving.
NEWS_TABLE = NEWS_ARTICLES.name
_NEWS_FIELDS: list[pa.Field[Any]] = [
    pa.field("asset_id", pa.string()),
    pa.field("article_id", pa.string()),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    *(pa.field(name, pa.string()) for name in ("title", "url", "outlet")),
    pa.field("sentiment_score", pa.float64()),
    pa.field("sentiment_label", pa.string()),
    pa.field("model_version", pa.string()),
]
NEWS_SCHEMA = pa.schema(_NEWS_FIELDS)


@dataclass
class SentimentRunReport:
    model_version: str
    days_scored: int = 0
    articles_scored: int = 0
    articles_reused: int = 0


def score_sentiment(
    lake: DeltaLake, paths: LakePaths, scorer: SentimentScorer
) -> SentimentRunReport:
    """Fill the unscored (or other-model) days of ``gold/sentiment_daily``."""
    report = SentimentRunReport(scorer.model_version)
    days_uri = paths.gold(SENTIMENT_DAILY.name)
    if not lake.exists(days_uri):
        raise NotFoundError(f"no gold/sentiment_daily at {days_uri}: run rwa gold first")
    days = lake.to_arrow(days_uri)
    stale = [v != scorer.model_version for v in days["model_version"].to_pylist()]
    todo = days.filter(pa.array(stale, pa.bool_()))
    if not lake.exists(paths.gold(NEWS_TABLE)):
        # A lake scored before the headlines were kept: list them for every day once.
        write_news(lake, paths, days.filter(pc.invert(pa.array(stale, pa.bool_()))), scorer)
    if todo.num_rows == 0:
        return report
    needed = {str(i) for i in pc.list_flatten(todo["article_ids"]).to_pylist()}
    known = _known_scores(lake, paths, scorer.model_version, needed)
    report.articles_reused = len(known)
    fresh = _score_articles(lake, paths, scorer, needed - set(known))
    report.articles_scored = len(fresh)
    scores = known | fresh
    lake.merge(
        _aggregate(todo, scores, scorer.model_version),
        days_uri,
        keys=("asset_id", "date"),
        update_when="true",
    )
    write_news(lake, paths, todo, scorer, scores)
    report.days_scored = todo.num_rows
    return report


def write_news(
    lake: DeltaLake,
    paths: LakePaths,
    days: pa.Table,
    scorer: SentimentScorer,
    scores: dict[str, dict[str, object]] | None = None,
) -> int:
    """Upsert ``gold/news_articles``: each article of ``days`` once per asset it names, with
    its headline, link and outlet (silver/news) and its score by ``scorer`` (``scores``, else
    those ``gold/article_sentiment`` holds; null when not scored)."""
    pairs = {
        (str(asset_id), str(article_id))
        for asset_id, ids in zip(
            days["asset_id"].to_pylist(), days["article_ids"].to_pylist(), strict=True
        )
        for article_id in ids or ()
    }
    if not pairs:
        return 0
    ids = {article_id for _, article_id in pairs}
    if scores is None:
        scores = _known_scores(lake, paths, scorer.model_version, ids)
    news = lake.table(paths.silver("news")).to_pyarrow_dataset()
    columns = ["article_id", "published_at", "title", "url", "outlet"]
    articles = news.to_table(columns=columns)
    articles = articles.filter(pc.is_in(articles["article_id"], pa.array(sorted(ids))))
    by_id = {row["article_id"]: row for row in articles.to_pylist()}
    rows = []
    for asset_id, article_id in sorted(pairs):
        article, score = by_id.get(article_id), scores.get(article_id)
        if article is None or not article["title"]:
            continue  # not in silver any more (gold is rebuilt from it): nothing to show
        rows.append(
            {
                "asset_id": asset_id,
                **{k: article[k] for k in columns},
                "sentiment_score": None if score is None else score["score"],
                "sentiment_label": None if score is None else score["label"],
                "model_version": None if score is None else scorer.model_version,
            }
        )
    table = pa.Table.from_pylist(rows, schema=NEWS_SCHEMA)
    lake.merge(table, paths.gold(NEWS_TABLE), keys=("asset_id", "article_id"), update_when="true")
    return table.num_rows


def _known_scores(
    lake: DeltaLake, paths: LakePaths, model_version: str, ids: set[str]
) -> dict[str, dict[str, object]]:
    uri = paths.gold(ARTICLE_TABLE)
    if not lake.exists(uri):
        return {}
    rows = lake.to_arrow(uri)
    mine = rows.filter(pc.equal(rows["model_version"], pa.scalar(model_version)))
    return {r["article_id"]: r for r in mine.to_pylist() if r["article_id"] in ids}


def _score_articles(
    lake: DeltaLake, paths: LakePaths, scorer: SentimentScorer, ids: set[str]
) -> dict[str, dict[str, object]]:
    if not ids:
        return {}
    news = lake.table(paths.silver("news")).to_pyarrow_dataset()
    articles = news.to_table(columns=["article_id", "title", "description"])
    articles = articles.filter(pc.is_in(articles["article_id"], pa.array(sorted(ids))))
    # an article kept on several days of silver news is scored once
    by_id = {row["article_id"]: row for row in articles.to_pylist()}
    missing = ids - set(by_id)
    if missing:
        raise NotFoundError(
            f"gold/sentiment_daily names {len(missing)} article(s) silver/news does not hold "
            f"(e.g. {sorted(missing)[0]}): rebuild gold (rwa gold) first"
        )
    ordered = sorted(by_id)
    results = scorer.score([_text(by_id[i]) for i in ordered])
    rows = [
        {
            "article_id": article_id,
            "model_version": scorer.model_version,
            "score": result.score,
            "positive": result.positive,
            "negative": result.negative,
            "neutral": result.neutral,
            "label": result.label,
            "confidence": result.confidence,
        }
        for article_id, result in zip(ordered, results, strict=True)
    ]
    table = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
    lake.merge(
        table, paths.gold(ARTICLE_TABLE), keys=("article_id", "model_version"), update_when=None
    )
    return {row["article_id"]: row for row in rows}


def _text(article: dict[str, object]) -> str:
    parts = [str(article[k]).strip() for k in ("title", "description") if article.get(k)]
    return ". ".join(part.rstrip(".") for part in parts if part) or ""


def _aggregate(
    todo: pa.Table, scores: dict[str, dict[str, object]], model_version: str
) -> pa.Table:
    rows = []
    for day in todo.to_pylist():
        articles = [scores[article_id] for article_id in day["article_ids"]]
        count = len(articles)
        day |= {
            "sentiment_score": sum(float(str(a["score"])) for a in articles) / count,
            "sentiment_confidence": sum(float(str(a["confidence"])) for a in articles) / count,
            "positive_share": sum(a["label"] == "positive" for a in articles) / count,
            "negative_share": sum(a["label"] == "negative" for a in articles) / count,
            "model_version": model_version,
        }
        rows.append(day)
    return pa.Table.from_pylist(rows, schema=todo.schema)
