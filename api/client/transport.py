"""Sending a request: the credentials' headers, one refresh after a ``401``, bounded retries
that honour ``429`` + ``Retry-After``, and the API's error turned into an exception."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from api.client.errors import RateLimitedError, error_for, retry_after
from api.client.operations import Operation, Query


class Credentials(Protocol):
    """How the client proves who it is (an API key, a token, an email and password)."""

    def headers(self, transport: Transport) -> dict[str, str]:
        """The headers of the next request (logging in or refreshing first if needed)."""
        ...

    def renew(self, transport: Transport) -> bool:
        """After a ``401``: get fresh credentials; True when retrying is worth it."""
        ...


class NoCredentials:
    """For the public routes only (``/health``, ``/auth/*``)."""

    def headers(self, transport: Transport) -> dict[str, str]:
        return {}

    def renew(self, transport: Transport) -> bool:
        return False


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries of a ``429``, each after its ``Retry-After`` (``default_wait``
    without one); a wait above ``max_wait`` seconds is not slept but raised at once."""

    max_retries: int = 3
    max_wait: float = 60.0
    default_wait: float = 1.0


class Transport:
    """One httpx connection pool to the API at ``base_url``, used by every resource."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        op: Operation,
        path: Query | None = None,
        query: Query | None = None,
        *,
        authenticated: bool = True,
        **send: Any,
    ) -> httpx.Response:
        """The successful response of ``op``; an :class:`~api.client.errors.ApiError` for
        any other. ``send``: httpx's ``json``, ``content``, ``headers``."""
        request = self._request(op, path, query, send)
        response = self._send(request, authenticated, refused_once=False)
        if response.is_error:
            raise error_for(response)
        return response

    @contextmanager
    def stream(
        self, op: Operation, query: Query | None = None, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """``op``'s response as a stream (the event stream); errors raised before yielding."""
        for renewed in (False, True):
            request = self._request(op, None, query, {"headers": headers or {}})
            request.headers.update(self.credentials.headers(self))
            response = self.http.send(request, stream=True)
            if response.status_code == 401 and not renewed and self.credentials.renew(self):
                response.close()
                continue
            try:
                if response.is_error:
                    response.read()
                    raise error_for(response)
                yield response
            finally:
                response.close()
            return

    def _request(
        self, op: Operation, path: Query | None, query: Query | None, send: Any
    ) -> httpx.Request:
        return self.http.build_request(
            op.method, op.url(**(path or {})), params=op.params(query or {}), **send
        )

    def _send(
        self, request: httpx.Request, authenticated: bool, refused_once: bool
    ) -> httpx.Response:
        for attempt in range(self.retry.max_retries + 1):
            if authenticated:
                request.headers.update(self.credentials.headers(self))
            response = self.http.send(request)
            if response.status_code == 401 and authenticated and not refused_once:
                # An access token expired (or was revoked) between the check and the call.
                refused_once = True
                if self.credentials.renew(self):
                    return self._send(request, authenticated, refused_once=True)
            if response.status_code != 429 or attempt == self.retry.max_retries:
                return response
            wait = retry_after(response)
            wait = self.retry.default_wait if wait is None else wait
            if wait > self.retry.max_wait:
                raise _too_long(response, wait, self.retry.max_wait)
            self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns")


def _too_long(response: httpx.Response, wait: float, max_wait: float) -> RateLimitedError:
    error = error_for(response)
    assert isinstance(error, RateLimitedError)
    error.message = f"{error.message} (Retry-After {wait:g} s exceeds the client's {max_wait:g} s)"
    error.args = (f"{error.status}: {error.message}",)
    return error
