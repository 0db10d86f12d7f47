"""A Python client of the API: one import, typed calls, DataFrames out.

    from api.client import Client

    with Client("http://127.0.0.1:8000", api_key="rwa_…") as rwa:
        bars = rwa.assets.ohlcv("usdc", resolution="1d", start="2024-01-01").to_df()
        for score in rwa.risk.list(asset_class="stablecoin").iter_rows():
            print(score["asset_id"], score["composite_score"])

It imports nothing of the server (an import-linter contract keeps it so): installing the
project is enough, and a script using it never loads FastAPI, Spark or the stores.
"""

from api.client.alerts import Event
from api.client.connection import Client
from api.client.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StreamClosedError,
    ValidationError,
)
from api.client.operations import OPERATIONS, Operation
from api.client.results import Page, Result

__all__ = [
    "OPERATIONS",
    "ApiError",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "Event",
    "FieldError",
    "ForbiddenError",
    "NotFoundError",
    "Operation",
    "Page",
    "RateLimitedError",
    "Result",
    "ServerError",
    "StreamClosedError",
    "ValidationError",
]
