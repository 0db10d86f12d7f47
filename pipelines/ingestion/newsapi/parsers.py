"""NewsAPI payloads -> ``silver/news`` records.

``/v2/everything`` (``newsapi`` is the real API; the ``simulated`` source imitates it, so the
registry gives both this parser): ``{"articles": [{source: {name}, author, title, description,
url, publishedAt, content}]}``. Identity and asset links: :mod:`pipelines.ingestion.articles`.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.articles import ArticleParser
from pipelines.ingestion.newsapi.connector import EVERYTHING_ENDPOINT
from pipelines.ingestion.payloads import Envelope, Record
from pipelines.ingestion.sql_records import Sql, SqlEnvelope, SqlRecord, field, literal, when


class NewsApiArticles(ArticleParser):
    endpoints: tuple[str, ...] = (EVERYTHING_ENDPOINT,)
    shape: str = "NewsAPI articles"
    params: tuple[str, ...] = ("language",)

    @property
    def payload_type(self) -> DataType:
        article = StructType(
            [
                StructField("source", StructType([StructField("name", StringType())])),
                *(
                    StructField(name, StringType())
                    for name in ("author", "title", "description", "url", "publishedAt", "content")
                ),
            ]
        )
        return StructType([StructField("articles", ArrayType(article))])

    def line_problem(self, prepared: Column) -> Column | None:
        return F.when(prepared["articles"].isNull(), F.lit(reasons.NO_ARTICLES.text()))

    def items(self, prepared: Column) -> Column:
        return prepared["articles"]

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        self.article(
            record,
            published=item["publishedAt"],
            published_label="publishedAt",
            text={
                "title": item["title"],
                "description": item["description"],
                "content": item["content"],
                "url": item["url"],
                "outlet": item["source"]["name"],
                "author": item["author"],
                "language": envelope.param("language"),
            },
        )
        return record

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        return when(f"{field(prepared, 'articles')} IS NULL", literal(reasons.NO_ARTICLES.text()))

    def sql_items(self, prepared: Sql) -> Sql:
        return field(prepared, "articles")

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        self.sql_article(
            record,
            published=field(item, "publishedAt"),
            published_label="publishedAt",
            text={
                "title": field(item, "title"),
                "description": field(item, "description"),
                "content": field(item, "content"),
                "url": field(item, "url"),
                "outlet": field(field(item, "source"), "name"),
                "author": field(item, "author"),
                "language": envelope.param("language"),
            },
        )
        return record
