"""NewsAPI: its connector (:mod:`.connector`) and its payload parser (:mod:`.parsers`)."""

from pipelines.ingestion.newsapi.connector import (
    EVERYTHING_ENDPOINT,
    NewsApiSource,
    news_queries,
    news_terms,
)
from pipelines.ingestion.newsapi.parsers import NewsApiArticles

__all__ = ["EVERYTHING_ENDPOINT", "NewsApiArticles", "NewsApiSource", "news_queries", "news_terms"]
