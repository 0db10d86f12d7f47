"""What a failed request raises: one exception class per kind of refusal, each carrying the
HTTP status, the API's own message (its ``detail``) and the request id to quote in a report.

The API answers every error with a JSON ``detail``: a sentence, or for a ``422`` FastAPI's
list of ``{loc, msg, type}`` naming the field. :func:`error_for` turns a response into the
matching exception, so callers catch :class:`NotFoundError` rather than test status codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

#: How a tier refusal names the tier it needs (``api/security/tiers.py``): "… requires the
#: professional tier or above".
_TIER = re.compile(r"requires the (\w+) tier")


class ApiError(Exception):
    """A response the API refused or failed: ``status``, ``message`` (the API's detail as
    text), ``detail`` (as sent) and ``request_id`` (the ``X-Request-ID`` of the response)."""

    def __init__(
        self, status: int, message: str, detail: Any = None, request_id: str | None = None
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.detail = detail
        self.request_id = request_id


class AuthenticationError(ApiError):
    """401: no, wrong, expired or revoked credentials (also a failed login or refresh)."""


class ForbiddenError(ApiError):
    """403: the credentials are valid but may not do this. ``tier`` is the lowest tier that
    may (when the refusal is a tier gate), e.g. ``"professional"``; None for a missing scope,
    an admin-only route or a cap."""

    @property
    def tier(self) -> str | None:
        match = _TIER.search(self.message)
        return match.group(1) if match else None


class NotFoundError(ApiError):
    """404: no such asset, series, portfolio, rule … (or not the caller's)."""


class ConflictError(ApiError):
    """409: the request contradicts the current state (e.g. a rule change that is no rule)."""


@dataclass(frozen=True)
class FieldError:
    """One refused field of a 422: where (``loc``, e.g. ``("query", "limit")``) and why."""

    loc: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str:
        """The field's name: the last part of ``loc`` that is a name."""
        names = [part for part in self.loc if isinstance(part, str)]
        return names[-1] if names else ""


class ValidationError(ApiError):
    """422: a parameter or a body field was refused; ``errors`` lists each with its place,
    ``fields`` their names."""

    def __init__(
        self, status: int, message: str, detail: Any = None, request_id: str | None = None
    ) -> None:
        super().__init__(status, message, detail, request_id)
        self.errors = _field_errors(detail)

    @property
    def fields(self) -> list[str]:
        return [error.field for error in self.errors]


class RateLimitedError(ApiError):
    """429 after the client's retries (or a wait longer than it may sleep): ``retry_after``
    is the seconds the API asked to wait."""

    def __init__(
        self,
        status: int,
        message: str,
        detail: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, detail, request_id)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the API failed (a 503 when its rate-limit storage or store is unreachable)."""


class StreamClosedError(Exception):
    """The event stream was ended by the API with a reason (a slow reader was dropped, the
    credential expired or was revoked)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
}


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` of ``response`` in seconds (the API sends seconds, never a date)."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_for(response: httpx.Response) -> ApiError:
    """The exception for the error response ``response``."""
    detail = _detail(response)
    message = _message(detail) or response.reason_phrase or "error"
    request_id = response.headers.get("X-Request-ID")
    status = response.status_code
    if status == 429:
        return RateLimitedError(status, message, detail, request_id, retry_after(response))
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return kind(status, message, detail, request_id)


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text or None
    return body.get("detail", body) if isinstance(body, dict) else body


def _message(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    errors = _field_errors(detail)
    if errors:
        return "; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors)
    return "" if detail is None else str(detail)


def _field_errors(detail: Any) -> list[FieldError]:
    if not isinstance(detail, list):
        return []
    return [
        FieldError(tuple(item.get("loc", ())), str(item.get("msg", "")))
        for item in detail
        if isinstance(item, dict)
    ]
