"""The sentiment step on a lake built from simulated news: every asset-day with news gets the
mean of its articles' scores, articles are scored once per model, a rerun changes nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from models.sentiment.batch import ARTICLE_TABLE, NEWS_TABLE, score_sentiment
from models.sentiment.scorers import FinBertScorer, LexiconScorer
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from tests.fixtures.lake import lake_settings

pytestmark = pytest.mark.usefixtures("spark")


@pytest.fixture(scope="module")
def news_lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = lake_settings(
        tmp_path_factory.mktemp("sentiment"),
        sim_days=6,
        sim_assets=["btc", "usdc", "ousg", "paxg", "buidl", "usde"],
    )
    steps.land_simulated(Lakehouse.from_settings(settings))
    steps.run_silver_all(Lakehouse.from_settings(settings))
    steps.run_gold(Lakehouse.from_settings(settings))
    return settings


def days(settings: Settings) -> list[dict[str, object]]:
    return (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).gold("sentiment_daily"))
        .to_pylist()
    )


def test_every_asset_day_gets_the_mean_of_its_articles(
    news_lake: Settings, tiny_finbert: Path
) -> None:
    lake, paths = DeltaLake(news_lake.lake, news_lake.spark), LakePaths(news_lake.lake)
    scorer = FinBertScorer(str(tiny_finbert), max_tokens=32)

    report = score_sentiment(lake, paths, scorer)

    rows = days(news_lake)
    assert rows and report.days_scored == len(rows)
    articles = lake.to_arrow(paths.gold(ARTICLE_TABLE))
    assert (
        report.articles_scored
        == articles.num_rows
        == len({a for row in rows for a in row["article_ids"]})
    )
    by_id = {a["article_id"]: a for a in articles.to_pylist()}
    for row in rows:
        mine = [by_id[a] for a in row["article_ids"]]
        assert row["model_version"] == scorer.model_version
        assert row["sentiment_score"] == pytest.approx(sum(a["score"] for a in mine) / len(mine))
        assert -1 <= row["sentiment_score"] <= 1
        assert row["positive_share"] + row["negative_share"] <= 1 + 1e-9

    # The headlines behind each asset's days, once per (asset, article), with their score.
    news = lake.to_arrow(paths.gold(NEWS_TABLE)).to_pylist()
    pairs = {(row["asset_id"], a) for row in rows for a in row["article_ids"]}
    assert {(n["asset_id"], n["article_id"]) for n in news} == pairs
    for item in news:
        assert item["title"] and item["published_at"] is not None
        assert item["sentiment_score"] == by_id[item["article_id"]]["score"]
        assert item["model_version"] == scorer.model_version

    again = score_sentiment(lake, paths, scorer)
    assert (again.days_scored, again.articles_scored) == (0, 0)


def test_another_model_rescores_and_keeps_both_article_scores(
    news_lake: Settings, tiny_finbert: Path
) -> None:
    lake, paths = DeltaLake(news_lake.lake, news_lake.spark), LakePaths(news_lake.lake)
    score_sentiment(lake, paths, FinBertScorer(str(tiny_finbert), max_tokens=32))
    lexicon = LexiconScorer()
    report = score_sentiment(lake, paths, lexicon)
    assert report.days_scored == len(days(news_lake))
    assert {row["model_version"] for row in days(news_lake)} == {lexicon.model_version}
    versions = lake.to_arrow(paths.gold(ARTICLE_TABLE))["model_version"]
    assert len(pc.unique(versions)) == 2
    # the headlines carry the newest model's scores
    news = lake.to_arrow(paths.gold(NEWS_TABLE))
    assert pc.unique(news["model_version"]).to_pylist() == [lexicon.model_version]
