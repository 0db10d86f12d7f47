"""``gold/sentiment_daily``: article and outlet counts per asset-day, and a rerun that keeps the
scores the sentiment step filled in for days whose articles did not change."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from pipelines.gold.sentiment import merge_sentiment_days, news_per_asset_day
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake
from tests.fixtures.lake import MakeSettings
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import NEWS_SCHEMA, silver_news_frame, silver_table

KEY = ("asset_id", "date")


def test_counts_equal_pandas(gold_lake: GoldLake) -> None:
    got = gold_lake.gold("sentiment_daily", KEY)
    want = ref.sentiment_counts(silver_news_frame()).sort_values(list(KEY))
    ref.assert_columns_equal(
        got, want, ["asset_id", "date", "article_count", "outlet_count", "article_ids"]
    )
    assert got[["sentiment_score", "model_version"]].isna().all().all()


def _score_everything(uri: str) -> None:
    """What the sentiment step does: MERGE scores into every row."""
    table = DeltaTable(uri)
    rows = table.to_pyarrow_table().select(["asset_id", "date"])
    scores = rows.append_column("score", pa.array([0.5] * rows.num_rows))
    (
        table.merge(scores, "t.asset_id = s.asset_id AND t.date = s.date", "s", "t")
        .when_matched_update({"sentiment_score": "s.score", "model_version": "'lexicon-1'"})
        .execute()
    )


def _write_counts(
    spark: SparkSession, lake: DeltaLake, news: pd.DataFrame, uri: str, days: DayRange | None
) -> None:
    silver = silver_table(news, NEWS_SCHEMA)
    merge_sentiment_days(lake, news_per_asset_day(spark.createDataFrame(silver)), uri, days)


def test_rerun_keeps_scores_of_unchanged_days_and_clears_changed_ones(
    spark: SparkSession, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    lake = DeltaLake(settings.lake, settings.spark)
    uri = settings.lake.uri("gold", "sentiment_daily")
    news = silver_news_frame()
    _write_counts(spark, lake, news, uri, None)
    _score_everything(uri)
    before = lake.to_arrow(uri).to_pandas().set_index(list(KEY))

    changed_day, emptied_day = dt.date(2026, 1, 14), dt.date(2026, 1, 15)
    extra = (
        news[news["date"] == changed_day].head(1).assign(article_id="extra", asset_ids=[["btc"]])
    )
    edited = pd.concat([news[news["date"] != emptied_day], extra], ignore_index=True)
    edited = edited[~(edited["date"] == emptied_day)]
    days = DayRange(changed_day, emptied_day)
    _write_counts(spark, lake, edited[edited["date"].between(days.first, days.last)], uri, days)

    after = lake.to_arrow(uri).to_pandas().set_index(list(KEY))
    btc_changed = after.loc[("btc", changed_day)]
    assert "extra" in list(btc_changed["article_ids"])
    assert pd.isna(btc_changed["sentiment_score"]) and btc_changed["model_version"] is None
    assert not any(day == emptied_day for _, day in after.index)
    untouched = [key for key in before.index if key[1] not in (changed_day, emptied_day)]
    assert (after.loc[untouched, "sentiment_score"] == 0.5).all()
    assert (after.loc[untouched, "model_version"] == "lexicon-1").all()
    others_on_changed_day = [k for k in before.index if k[1] == changed_day and k[0] != "btc"]
    assert (after.loc[others_on_changed_day, "sentiment_score"] == 0.5).all()

    # The same input again changes nothing: scores survive an identical full rerun.
    _write_counts(spark, lake, edited, uri, None)
    again = lake.to_arrow(uri).to_pandas().set_index(list(KEY))
    assert (again.loc[untouched, "model_version"] == "lexicon-1").all()
    assert len(again) == len(after)
