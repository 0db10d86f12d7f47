"""RSS/Atom news feeds (source ``news``): its connector (:mod:`.connector`) and its payload
parser (:mod:`.parsers`)."""

from pipelines.ingestion.news.connector import RssFeedSource, feed_problem
from pipelines.ingestion.news.parsers import FeedItems, parse_feed

__all__ = ["FeedItems", "RssFeedSource", "feed_problem", "parse_feed"]
