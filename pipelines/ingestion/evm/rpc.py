"""Plain JSON-RPC 2.0 over the project's HTTP client (rate limit, retries on 429/5xx and
timeouts, redaction of a key in the URL): single calls and batches.

A JSON-RPC error arrives with HTTP 200. :meth:`JsonRpc.call` raises :class:`RangeRefusedError` for a
node's refusal of an ``eth_getLogs`` range (:mod:`.paging` narrows it), retries errors that
say the node is rate limiting or busy (with the client's backoff), and raises a fatal
:class:`~pipelines.core.errors.FetchError` with the node's words for anything else.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from pipelines.core.errors import FetchError
from pipelines.ingestion.evm.paging import RangeRefusal, range_refusal
from pipelines.ingestion.http import HttpClient

#: JSON-RPC errors worth retrying: the node is throttling or briefly unable to answer.
_BUSY = re.compile(
    r"rate limit|too many requests|request rate|capacity|try again|timeout|timed out"
    r"|header not found|unknown block",
    re.IGNORECASE,
)


class RangeRefusedError(Exception):
    """The node refused an ``eth_getLogs`` block range (see :mod:`.paging`)."""

    def __init__(self, refusal: RangeRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class JsonRpc:
    """JSON-RPC calls to one chain's node."""

    def __init__(
        self, client: HttpClient, chain: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.chain = chain
        self._ids = itertools.count(1)
        self._sleep = sleep
        self._rng = random.Random()

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """The ``result`` of one call; see the module docstring for errors."""
        for attempt in itertools.count(1):
            answer = self._post(
                {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
            )
            if not isinstance(answer, dict):
                raise self._fatal(method, f"answer is not a JSON-RPC object: {answer!r:.120}")
            error = answer.get("error")
            if error is None:
                return answer.get("result")
            if method == "eth_getLogs" and (refusal := range_refusal(error)) is not None:
                raise RangeRefusedError(refusal)
            if not self._retry_busy(method, error, attempt):
                raise self._fatal(method, _describe(error))
        raise AssertionError("unreachable")  # pragma: no cover

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of several calls sent as one JSON-RPC batch, in the order given; a
        failed call is None in its place (the caller decides what a missing answer means)."""
        if not calls:
            return []
        first = next(self._ids)
        body = [
            {"jsonrpc": "2.0", "id": first + index, "method": method, "params": list(params)}
            for index, (method, params) in enumerate(calls)
        ]
        self._ids = itertools.count(first + len(calls))
        answers = self._post(body)
        if not isinstance(answers, list):
            # A node that does not batch answers one error object for the whole request.
            raise self._fatal("batch", f"answer is not a JSON-RPC batch: {answers!r:.120}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [by_id.get(first + index, {}).get("result") for index in range(len(calls))]

    def _post(self, body: Any) -> Any:
        return self.client.post_json("", body).json()

    def _retry_busy(self, method: str, error: Any, attempt: int) -> bool:
        """Sleep before the next attempt when the node says it is busy and retries are left."""
        if not _BUSY.search(_describe(error)) or attempt > self.client.retry.max_retries:
            return False
        self._sleep(self.client.retry.delay(attempt, None, self._rng))
        return True

    def _fatal(self, method: str, problem: str) -> FetchError:
        shown = self.client.redact_url(self.client.base_url)
        return FetchError(
            f"{self.client.source}: {self.chain} {method} at {shown} failed: "
            f"{self.client.redact_text(problem)}",
            source=self.client.source,
            url=shown,
            status=200,
            retryable=False,
        )


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message", "")
        return f"JSON-RPC error {code}: {message}"
    return f"JSON-RPC error {error!r:.200}"
