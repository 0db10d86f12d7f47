"""API hardening over real HTTP against ``rwa serve``: request ids, security headers, the
request-size limit, CORS, the JSON access log and who may read /metrics."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.security.server import Server, rwa_serve

pytestmark = pytest.mark.slow

ORIGIN = "https://app.example.com"
MAX_BODY = 2048
SCRAPER_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    env = {
        "RWA_API_MAX_BODY_BYTES": str(MAX_BODY),
        "RWA_API_CORS_ORIGINS": ORIGIN,
        "RWA_METRICS_TOKEN": SCRAPER_TOKEN,
        "RWA_RATE_LIMIT_STORAGE": redis_url,
    }
    with rwa_serve(tmp_path_factory.mktemp("hardening"), env) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_every_response_has_security_headers_and_a_request_id(http: httpx.Client) -> None:
    for path in ("/health", "/no-such-route", "/docs"):
        response = http.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert len(response.headers["x-request-id"]) == 32
        assert "strict-transport-security" not in response.headers  # plain HTTP
    assert "default-src 'none';" in http.get("/health").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in http.get("/docs").headers["content-security-policy"]
    # A sane incoming id is kept (a proxy's); anything else is replaced.
    assert http.get("/health", headers={"X-Request-ID": "edge-42.a"}).headers["x-request-id"] == (
        "edge-42.a"
    )
    for hostile in ("<script>", "x" * 200, "a b"):
        echoed = http.get("/health", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert echoed != hostile and len(echoed) == 32


def test_oversized_bodies_get_413(http: httpx.Client) -> None:
    declared = http.post("/health", content=b"x" * (MAX_BODY + 1))
    assert declared.status_code == 413
    assert declared.json() == {"detail": f"request body larger than {MAX_BODY} bytes"}
    assert declared.headers["x-request-id"]
    assert http.post("/health", content=b"x" * MAX_BODY).status_code == 405  # within the limit


def test_cors_preflight_is_allowed_only_for_the_configured_origin(http: httpx.Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = http.options("/assets", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["x-request-id"]
    refused = http.options("/assets", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    simple = http.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_metrics_need_the_scraper_token_or_an_admin(http: httpx.Client) -> None:
    assert http.get("/metrics").status_code == 401
    wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    scraped = http.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert 'rwa_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in (
        scraped.text
    )
    assert (
        'rwa_http_responses_total{method="POST",route="<unmatched>",status="413"}' in (scraped.text)
        or 'status="413"' in scraped.text
    )


def test_access_log_is_json_with_request_ids_and_no_secrets(
    server: Server, http: httpx.Client
) -> None:
    secret = secrets.token_urlsafe(16)
    response = http.get(
        "/health",
        params={"api_key": secret},
        headers={"Authorization": f"Bearer {secret}", "X-API-Key": secret},
    )
    request_id = response.headers["x-request-id"]
    lines = server.access_lines()
    (line,) = [entry for entry in lines if entry["request_id"] == request_id]
    assert line["method"] == "GET" and line["path"] == "/health" and line["status"] == 200
    assert line["route"] == "/health" and line["duration_ms"] >= 0 and line["pid"]
    assert secret not in Path(server.log).read_text()
    assert SCRAPER_TOKEN not in Path(server.log).read_text()
