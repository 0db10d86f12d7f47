"""The base of the resource classes (``client.assets``, ``client.portfolios`` …): a call of
an :class:`~api.client.operations.Operation` answered as a :class:`Result`, a :class:`Page`,
bytes or nothing."""

from __future__ import annotations

from typing import Any

from api.client.operations import Operation, Query
from api.client.results import Page, Result
from api.client.transport import Transport


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _result(
        self,
        op: Operation,
        path: Query | None = None,
        query: Query | None = None,
        **send: Any,
    ) -> Result:
        return Result(self._transport.call(op, path, query, **send).json(), op.rows)

    def _page(self, op: Operation, path: Query | None, query: Query) -> Page:
        """One page of ``op`` at ``query``'s offset, able to fetch the ones after it."""
        offset = int(str(query.get("offset") or 0))
        answer = self._transport.call(op, path, query).json()

        def fetch(following: int) -> Page:
            return self._page(op, path, {**query, "offset": following})

        return Page(answer, op.rows, offset, fetch)

    def _bytes(self, op: Operation, path: Query) -> bytes:
        return self._transport.call(op, path).content

    def _nothing(self, op: Operation, path: Query | None = None, **send: Any) -> None:
        self._transport.call(op, path, **send)
