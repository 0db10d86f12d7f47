"""The HTTP client every real source shares, and the connector base built on it.

:class:`HttpClient` is a synchronous ``httpx`` client bound to one source. Each GET:

* waits for the source's :class:`RateLimiter` (every attempt counts against an API's quota);
* retries what may succeed later (429, 408, 500/502/503/504, the 52x answers of the Cloudflare
  front most public APIs sit behind, timeouts, refused or reset connections, bodies cut short),
  sleeping per :class:`RetryPolicy`: exponential backoff with full jitter, never shorter than
  the server's ``Retry-After``;
* fails at once on every other error status with the API's own error message;
* after the last retry raises a retryable :class:`~pipelines.core.errors.FetchError` naming the
  source, the URL, the last status and the number of attempts.

Secrets never reach a message or a log line: query parameters and headers whose names look like
credentials (``api_key``, ``x_cg_demo_api_key``, ``X-Api-Key``, ``Authorization``...) are shown
as ``REDACTED``, and their values are scrubbed from any text the client reports.

:class:`HttpConnector` is the common shape of JSON sources: fill the endpoint template from the
request's params, GET, parse, check the documented top-level shape, return the payload untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import string
import time
from abc import abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.resources import Closeable
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import Connector, RawResponse, SourceRequest
from pipelines.ingestion.pacing import Jitter, RateLimiter, RetryPolicy, parse_retry_after

logger = logging.getLogger("pipelines.ingestion.http")

#: Statuses worth retrying: throttling, timeouts and server-side trouble. 501/505 and every
#: other 4xx mean the request itself is wrong, so repeating it cannot help.
RETRYABLE_STATUSES: frozenset[int] = frozenset(
    {408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
)
REDACTED = "REDACTED"
USER_AGENT = "rwa-lakehouse/0.1 (+python-httpx)"

# Names of query params / headers that carry credentials.
_SECRET_NAME = re.compile(r"api[-_]?key|apikey|token|secret|password|authorization|^key$", re.I)
# Secret values shorter than this are not scrubbed from free text (too likely to be noise).
_MIN_SCRUBBED_LEN = 4
_MAX_SHOWN_CHARS = 200
# Keys under which the APIs we call put their error text (CoinGecko: error / status.error_message,
# FRED: error_message, NewsAPI and DefiLlama: message, FastAPI-style: detail).
_MESSAGE_KEYS = ("error_message", "message", "error", "detail", "msg", "status_message")
_ABSOLUTE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A successful (2xx) answer. ``url`` is the final URL with secrets redacted; ``headers``
    look up case-insensitively; ``source`` names the source in error messages."""

    url: str
    status: int
    headers: Mapping[str, str]
    text: str
    fetched_at: dt.datetime
    source: str = "http"

    def json(self) -> Any:
        """The body parsed as JSON; a malformed or truncated body is a fatal FetchError (the
        server answered 2xx, so asking again would most likely return the same bytes)."""
        try:
            return json.loads(self.text)
        except ValueError as exc:
            problem = "the body is empty" if not self.text.strip() else str(exc)
            raise self.refusal(
                f"is not valid JSON: {problem}{_body_hint(self.text)}", retryable=False
            ) from None

    def refusal(self, what: str, *, retryable: bool) -> FetchError:
        """The error for this answer: ``"<source>: response from <url> <what>"``."""
        return FetchError(
            f"{self.source}: response from {self.url} {what}",
            source=self.source,
            url=self.url,
            status=self.status,
            retryable=retryable,
        )


@dataclass(frozen=True, slots=True)
class _Retry:
    """A failed attempt that may succeed later."""

    reason: str
    status: int | None = None
    retry_after: float | None = None


class HttpClient(Closeable):
    """GETs (and JSON POSTs) against one source's API, with rate limit, retries and redacted
    errors."""

    def __init__(
        self,
        source: str,
        *,
        base_url: str,
        retry: RetryPolicy,
        timeout_s: float,
        rate_per_s: float | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Jitter | None = None,
        secrets: Collection[str] = (),
    ) -> None:
        """``params`` are sent with every request (for APIs that take their key as a query
        parameter, like FRED); ``secrets`` are more texts never to show (a key in a URL's
        path); ``sleep`` and ``rng`` exist so tests never wait for real."""
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout_s = timeout_s
        self.rate_per_s = rate_per_s
        self._sleep = sleep
        self._rng: Jitter = rng if rng is not None else random.Random()
        self._limiter = None if rate_per_s is None else RateLimiter(rate_per_s, sleep=sleep)
        self._params = dict(params or {})
        sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._secrets: set[str] = {s for s in secrets if len(s) >= _MIN_SCRUBBED_LEN}
        self._remember_secrets(sent_headers)
        self._remember_secrets(self._params)
        self._client = httpx.Client(
            headers=sent_headers,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=True,  # feeds and CDNs move; a redirect is not an error
        )

    @classmethod
    def for_source(
        cls,
        source: str,
        settings: SourceSettings,
        *,
        base_url: str,
        rate_per_s: float | None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> HttpClient:
        """The client for ``source`` with the ``RWA_HTTP_*`` timeout and retry settings."""
        return cls(
            source,
            base_url=base_url,
            retry=RetryPolicy.from_settings(settings),
            timeout_s=settings.http_timeout_s,
            rate_per_s=rate_per_s,
            headers=headers,
            params=params,
        )

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> HttpResponse:
        """GET a path under ``base_url`` (or an absolute URL, e.g. an RSS feed, as-is) with
        ``params`` added to its query string (None values are left out). Raises FetchError."""
        url = path_or_url if _ABSOLUTE_URL.match(path_or_url) else self._join(path_or_url)
        query = {**self._params, **{k: v for k, v in (params or {}).items() if v is not None}}
        self._remember_secrets(query)  # a key passed per call is scrubbed like a default one
        shown = self.redact_url(url, query)
        try:
            # Merged here: httpx would replace a query string the URL already has.
            target = httpx.URL(url).copy_merge_params(query) if query else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise self._failure(
                f"invalid URL {shown}: {self.redact_text(str(exc))}", shown, None, retryable=False
            ) from None
        return self._send("GET", target, shown)

    def post_json(self, path_or_url: str, body: Any) -> HttpResponse:
        """POST ``body`` as JSON (a JSON-RPC call) to a path under ``base_url`` (or an absolute
        URL), with the same rate limit, retries and redaction as :meth:`get`."""
        url = path_or_url if _ABSOLUTE_URL.match(path_or_url) else self._join(path_or_url)
        shown = self.redact_url(url)
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise self._failure(
                f"invalid URL {shown}: {self.redact_text(str(exc))}", shown, None, retryable=False
            ) from None
        return self._send("POST", target, shown, json.dumps(body).encode())

    def _send(
        self, method: str, target: httpx.URL, shown: str, content: bytes | None = None
    ) -> HttpResponse:
        """One request, attempted until it succeeds, fails for good or runs out of retries."""
        attempts = self.retry.max_retries + 1
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                self._limiter.acquire()
            outcome = self._attempt(method, target, shown, content)
            if isinstance(outcome, HttpResponse):
                return outcome
            if attempt >= attempts:
                raise self._failure(
                    f"{method} {shown} failed after {attempts} "
                    f"attempt{'s' * (attempts != 1)}: {outcome.reason}",
                    shown,
                    outcome.status,
                    retryable=True,
                )
            wait = self.retry.delay(attempt, outcome.retry_after, self._rng)
            logger.warning(
                "%s: %s %s: %s; retry %d of %d in %.2f s",
                self.source,
                method,
                shown,
                outcome.reason,
                attempt,
                self.retry.max_retries,
                wait,
            )
            self._sleep(wait)

    def redact_url(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        """``url`` plus ``params`` as text, with credential params and passwords redacted."""
        try:
            full = httpx.URL(url)
            if params:
                full = full.copy_merge_params(dict(params))
            for name in {k for k, _ in full.params.multi_items() if _is_secret(k)}:
                full = full.copy_set_param(name, REDACTED)
            if full.password:
                full = full.copy_with(password=REDACTED)
        except (httpx.InvalidURL, TypeError, ValueError):
            return self.redact_text(url)
        return self.redact_text(str(full))

    def redact_text(self, text: str) -> str:
        """``text`` with every secret this client sends replaced by ``REDACTED``."""
        # Longest first, so a secret that contains another is scrubbed whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def close(self) -> None:
        self._client.close()

    # -- one attempt ----------------------------------------------------------------------------

    def _remember_secrets(self, values: Mapping[str, Any]) -> None:
        self._secrets.update(
            str(value)
            for name, value in values.items()
            if _is_secret(name) and len(str(value)) >= _MIN_SCRUBBED_LEN
        )

    def _failure(self, what: str, shown: str, status: int | None, *, retryable: bool) -> FetchError:
        """The error for a GET of ``shown`` (the redacted URL): ``"<source>: <what>"``."""
        return FetchError(
            f"{self.source}: {what}",
            source=self.source,
            url=shown,
            status=status,
            retryable=retryable,
        )

    def _join(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def _attempt(
        self, method: str, target: httpx.URL, shown: str, content: bytes | None
    ) -> HttpResponse | _Retry:
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._client.request(method, target, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            return _Retry(f"no answer within {self.timeout_s:g} s ({type(exc).__name__})")
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # Refused or reset connections and bodies shorter than their Content-Length are
            # transport hiccups: the same request may well succeed next time.
            return _Retry(f"{type(exc).__name__}: {self.redact_text(str(exc))}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._failure(
                f"{method} {shown} failed: {type(exc).__name__}: {self.redact_text(str(exc))}",
                shown,
                None,
                retryable=False,
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return HttpResponse(
                url=self.redact_url(str(response.url)),
                status=status,
                headers=response.headers,
                text=response.text,
                fetched_at=dt.datetime.now(dt.UTC),
                source=self.source,
            )
        described = f"HTTP {status} {_reason(response)}"
        message = self.redact_text(api_error_message(response.text))
        if message:
            described += f": {message}"
        if status in RETRYABLE_STATUSES:
            return _Retry(described, status, parse_retry_after(response.headers.get("Retry-After")))
        raise self._failure(
            f"{method} {shown} failed with {described}", shown, status, retryable=False
        )


def require_key(secret: SecretStr | None, setting: str, *, source: str | None = None) -> str:
    """The value of a required API key, or a one-line ConfigurationError naming its variable.

    ``setting`` is the Settings field (``fred_api_key``) or the variable (``RWA_FRED_API_KEY``);
    ``source`` defaults to the field name without its ``_api_key`` / ``_key`` suffix.
    """
    value = secret.get_secret_value().strip() if secret is not None else ""
    if value:
        return value
    variable = setting if setting.startswith("RWA_") else f"RWA_{setting.upper()}"
    if source is None:
        field = variable.removeprefix("RWA_").lower()
        source = field.removesuffix("_api_key").removesuffix("_key")
    raise ConfigurationError(f"{variable} is not set: the {source} source needs an API key")


def api_error_message(body: str) -> str:
    """The error text an API put in an error body (JSON message fields, else the start of the
    body with markup stripped), whitespace-collapsed and at most 200 characters."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    found = parsed if isinstance(parsed, str) else _find_message(parsed, depth=4)
    if found is None:
        found = re.sub(r"<[^>]*>", " ", body) if body.lstrip().startswith("<") else body
    return _shorten(found)


def render_endpoint(endpoint: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Fill the ``{placeholders}`` of an endpoint template from ``params`` (URL-quoted); the
    other params are the query string. ``("/coins/{id}/ohlc", {"id": "usd-coin", "days": 7})``
    gives ``("/coins/usd-coin/ohlc", {"days": 7})``."""
    names = [name for _, name, _, _ in string.Formatter().parse(endpoint) if name is not None]
    missing = [name for name in names if name not in params]
    if missing or "" in names:
        raise ValueError(f"endpoint {endpoint!r} needs named params {missing or names}")
    path = endpoint.format_map({name: quote(str(params[name]), safe="") for name in names})
    return path, {key: value for key, value in params.items() if key not in names}


@dataclass(frozen=True, slots=True)
class Shape:
    """The documented top level of a JSON payload: an array, or an object with ``keys``."""

    kind: type[list[Any]] | type[dict[str, Any]]
    keys: tuple[str, ...] = ()

    def problem(self, payload: Any) -> str | None:
        """Why ``payload`` does not have this shape, or None when it does."""
        if not isinstance(payload, self.kind):
            wanted = "a JSON array" if self.kind is list else "a JSON object"
            return f"expected {wanted}, got {_json_type(payload)}"
        missing = [key for key in self.keys if key not in payload]
        return f"expected keys {missing} are missing" if missing else None


class HttpConnector(Connector, Closeable):
    """A connector whose every request is one GET against a JSON API.

    Subclasses say which client serves a request (:meth:`client_for`) and, optionally, which
    top-level :class:`Shape` each endpoint documents (:meth:`shape_for`); the endpoint template
    and params of the :class:`SourceRequest` become the URL (see :func:`render_endpoint`).
    Sources that are not JSON (RSS) override :meth:`decode`.
    """

    def __init__(self, *clients: HttpClient) -> None:
        self._clients = clients

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> Self:
        """The connector as the ``RWA_*`` source settings configure it, covering ``assets``
        where the source is per asset. Raises ConfigurationError naming the setting when one is
        missing."""

    @abstractmethod
    def client_for(self, request: SourceRequest) -> HttpClient:
        """The client (API root, key, rate limit) that serves ``request``."""

    def shape_for(self, request: SourceRequest) -> Shape | None:
        """The documented top-level shape of the answer to ``request``; None = unchecked."""
        return None

    def decode(self, request: SourceRequest, response: HttpResponse) -> Any:
        """The payload of ``response``: parsed JSON, refused (fatal FetchError) when it is not
        the shape the API documents, e.g. an error object served with status 200."""
        payload = response.json()
        shape = self.shape_for(request)
        problem = shape.problem(payload) if shape is not None else None
        if problem is not None:
            raise response.refusal(
                f"is not the documented {request.endpoint} shape: {problem}"
                f"{_body_hint(response.text)}",
                retryable=False,
            )
        return payload

    def refuse(
        self, request: SourceRequest, response: HttpResponse, problem: str, *, retryable: bool
    ) -> FetchError:
        """The error for a 2xx answer that is not what the source documents (``problem`` is
        scrubbed of the client's secrets)."""
        redacted = self.client_for(request).redact_text(problem)
        return response.refusal(f"refused: {redacted}", retryable=retryable)

    def fetch(self, request: SourceRequest) -> RawResponse:
        path, query = render_endpoint(request.endpoint, request.params)
        response = self.client_for(request).get(path, query)
        return RawResponse(self.decode(request, response), response.fetched_at)

    def close(self) -> None:
        """Close the connection pools of this connector's clients."""
        for client in self._clients:
            client.close()


class SingleClientConnector(HttpConnector):
    """An HTTP connector whose every request goes to one client (one API root and key)."""

    def __init__(self, client: HttpClient) -> None:
        super().__init__(client)
        self.client = client

    def client_for(self, request: SourceRequest) -> HttpClient:
        return self.client


# -- helpers ------------------------------------------------------------------------------------


def _is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _reason(response: httpx.Response) -> str:
    if response.reason_phrase:
        return response.reason_phrase
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return "(no reason phrase)"


def _find_message(value: Any, depth: int) -> str | None:
    """The first non-empty string under a known message key, searched breadth first."""
    if depth < 0:
        return None
    children: Collection[Any] = ()
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            found = value.get(key)
            if isinstance(found, str) and found.strip():
                return found
        children = list(value.values())
    elif isinstance(value, list):
        children = value[:5]
    for child in children:
        if isinstance(child, dict | list):
            found = _find_message(child, depth - 1)
            if found:
                return found
    return None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN_CHARS else text[: _MAX_SHOWN_CHARS - 1] + "…"


def _body_hint(text: str) -> str:
    if not text.strip():
        return ""
    return f" (body starts {_shorten(text[:80])!r}, {len(text)} characters)"


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")
