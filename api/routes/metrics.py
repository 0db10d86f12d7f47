"""``GET /metrics``: Prometheus metrics of the API, for admins and the configured scraper.

Left out of the OpenAPI document: it is an operations endpoint in Prometheus' text format,
not part of the data API.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.security.metrics import exposition
from api.security.tiers import principal_of

router = APIRouter(include_in_schema=False)


def _is_scraper(request: Request) -> bool:
    """True when the request presents ``settings.api.metrics_token`` as a Bearer token."""
    token = getattr(request.app.state, "api_settings", None)
    expected = token.metrics_token if token is not None else None
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if expected is None or scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())


@router.get("/metrics")
def read_metrics(request: Request) -> Response:
    """The text exposition of every metric (all workers' in multiprocess mode)."""
    if not _is_scraper(request):
        principal = principal_of(request)  # 401 without credentials
        if not principal.is_admin:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="/metrics is for admins")
    body, content_type = exposition()
    return Response(body, media_type=content_type)
