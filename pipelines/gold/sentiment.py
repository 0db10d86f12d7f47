"""``gold/sentiment_daily``: the news about each asset on each day, awaiting its scores.

Gold counts the articles of ``silver/news`` per asset (an article naming several assets counts
for each) and UTC day of publication. The score columns (``sentiment_score``,
``sentiment_confidence``, ``positive_share``, ``negative_share``, ``model_version``) are written
null: the sentiment step fills them later by MERGE on ``(asset_id, date)``.

So a gold rerun must not wipe scores already paid for. The table is therefore MERGEd, never
overwritten:

* a day whose article set (``article_ids``, sorted) changed gets its counts and ids replaced and
  its scores cleared (``model_version`` null marks it for the sentiment step to score again);
* a day whose article set is unchanged keeps its scores; only its counts are refreshed (an
  outlet corrected in silver changes ``outlet_count`` without changing what was scored);
* a new day is inserted with null scores;
* a day of the run's range that no longer has any article is deleted.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.contracts.gold import SENTIMENT_DAILY
from pipelines.gold.tables import sorted_for_write
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake

#: Filled by the sentiment step; gold writes them null.
SCORE_COLUMNS: dict[str, str] = {
    "sentiment_score": "double",
    "sentiment_confidence": "double",
    "positive_share": "double",
    "negative_share": "double",
    "model_version": "string",
}
COUNT_COLUMNS = ("article_count", "outlet_count", "article_ids")
SENTIMENT_COLUMNS = ("asset_id", "date", *COUNT_COLUMNS, *SCORE_COLUMNS)


def news_per_asset_day(news: DataFrame) -> DataFrame:
    """One row per asset and day with news: article and outlet counts, sorted article ids, and
    the score columns null."""
    mentions = news.select("date", "article_id", "outlet", F.explode("asset_ids").alias("asset_id"))
    return (
        mentions.groupBy("asset_id", "date")
        .agg(
            F.count_distinct("article_id").alias("article_count"),
            F.count_distinct("outlet").alias("outlet_count"),
            F.array_sort(F.collect_set("article_id")).alias("article_ids"),
        )
        .select(
            "asset_id",
            "date",
            *COUNT_COLUMNS,
            *(F.lit(None).cast(kind).alias(name) for name, kind in SCORE_COLUMNS.items()),
        )
    )


def merge_sentiment_days(lake: DeltaLake, df: DataFrame, uri: str, days: DayRange | None) -> int:
    """Merge the recomputed rows of ``days`` (all days when None) as the module docstring says;
    returns the rows of ``df``."""
    if not lake.exists(uri):
        return lake.overwrite(sorted_for_write(lake, df, SENTIMENT_DAILY.key), uri)
    source = df.toArrow()
    counts = {name: f"s.{name}" for name in COUNT_COLUMNS}
    cleared = {name: "NULL" for name in SCORE_COLUMNS}
    counts_changed = "t.article_count <> s.article_count OR t.outlet_count <> s.outlet_count"
    merger = (
        lake.table(uri)
        .merge(
            source=source,
            predicate=" AND ".join(f"t.{key} = s.{key}" for key in SENTIMENT_DAILY.key),
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update(counts | cleared, predicate="t.article_ids <> s.article_ids")
        .when_matched_update(counts, predicate=counts_changed)
        .when_not_matched_insert_all()
        .when_not_matched_by_source_delete(
            predicate=None if days is None else days.predicate("t.date")
        )
    )
    merger.execute()
    return int(source.num_rows)
