"""API hardening over real HTTP against ``rwa serve``: request ids, security headers, the
request-size limit, CORS, the tier matrix, login throttling, the JSON access log and who may
read /metrics. Users are real rows of the server's operational database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.accounts.principal import Role
from tests.api.security.server import Server, rwa_serve
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

ORIGIN = "https://app.example.com"
MAX_BODY = 2048
SCRAPER_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(tmp_path_factory.mktemp("hardening-accounts"))
    return {role: provision(settings, role) for role in (Role.EXPLORER, Role.ADMIN)}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, users: dict[Role, ApiCredentials]
) -> Iterator[Server]:
    env = {
        **users[Role.ADMIN].env(),
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


def test_metrics_need_the_scraper_token_or_an_admin(
    http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    assert http.get("/metrics").status_code == 401
    wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert http.get("/metrics", headers=users[Role.EXPLORER].headers).status_code == 403
    assert http.get("/metrics", headers=users[Role.ADMIN].headers).status_code == 200
    scraped = http.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert 'rwa_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in (
        scraped.text
    )
    # Refused before routing: counted, under a bounded label.
    assert 'rwa_http_responses_total{method="POST",route="<unmatched>",status="413"}' in (
        scraped.text
    )


def test_the_tier_matrix_over_http(http: httpx.Client, users: dict[Role, ApiCredentials]) -> None:
    explorer, admin = users[Role.EXPLORER].headers, users[Role.ADMIN].headers
    intraday = http.get("/assets/btc/ohlcv", headers=explorer)
    assert intraday.status_code == 403
    assert intraday.json()["detail"] == (
        "1h bars (explorer reads 1d and 1w: pass resolution=1d) requires the professional tier "
        "or above"
    )
    daily = http.get("/assets/btc/ohlcv", params={"resolution": "1d"}, headers=explorer)
    assert daily.status_code == 200
    assert daily.headers["x-ratelimit-limit"] == "100"
    assert 0 <= int(daily.headers["x-ratelimit-remaining"]) < 100
    assert 1 <= int(daily.headers["x-ratelimit-reset"]) <= 60
    for path, params in (
        ("/predictions", {"horizon": 30}),
        ("/risk", {}),
        ("/assets/btc/ohlcv", {"resolution": "1d", "limit": 5001}),
    ):
        refused = http.get(path, params=params, headers=explorer)
        assert refused.status_code == 403, path
        assert "requires the professional tier or above" in refused.json()["detail"]
        assert http.get(path, params=params, headers=admin).status_code == 200, path
    assert http.get("/predictions", params={"horizon": 7}, headers=explorer).status_code == 200
    assert "x-ratelimit-limit" not in http.get("/assets", headers=admin).headers
    # No credentials: 401 before any tier question.
    assert http.get("/risk").status_code == 401


def test_access_log_is_json_with_request_ids_and_no_secrets(
    server: Server, http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    explorer = users[Role.EXPLORER]
    login = http.post("/auth/login", json={"email": explorer.email, "password": explorer.password})
    assert login.status_code == 200
    tokens = login.json()
    leaky = secrets.token_urlsafe(16)
    response = http.get(
        "/assets",
        params={"api_key": leaky},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 200
    line = server.access_line(response.headers["x-request-id"])
    assert line["method"] == "GET" and line["path"] == "/assets" and line["status"] == 200
    assert line["route"] == "/assets" and line["user_id"] == explorer.user_id
    assert line["duration_ms"] >= 0 and line["pid"]
    logged_in = server.access_line(login.headers["x-request-id"])
    assert logged_in["path"] == "/auth/login" and logged_in["status"] == 200
    created = http.post("/me/keys", json={"name": "log test"}, headers=explorer.headers)
    assert created.status_code == 201
    key = created.json()["key"]
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        by_key = http.get("/assets", headers=headers)
        assert by_key.status_code == 200
        assert server.access_line(by_key.headers["x-request-id"])["user_id"] == explorer.user_id
    log = Path(server.log).read_text()
    for secret in (
        explorer.password,
        tokens["access_token"],
        tokens["refresh_token"],
        explorer.access_token,
        leaky,
        key,
        SCRAPER_TOKEN,
    ):
        assert secret not in log


def test_chunked_login_bodies_over_the_limit_get_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(MAX_BODY // 64 + 1):
            yield b"p" * 64
        yield b'"}'

    response = http.post(
        "/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {MAX_BODY} bytes"}


def test_password_guessing_is_throttled_per_account_and_per_address(
    http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    """Last in the module: it spends this address's login budget for a minute."""

    def guess(email: str) -> httpx.Response:
        return http.post("/auth/login", json={"email": email, "password": "wrong-password-1"})

    victim = users[Role.ADMIN].email
    assert [guess(victim).status_code for _ in range(5)] == [401] * 5
    locked = guess(victim)
    assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 60
    # Even the right password waits: the account is locked, not the guess refused.
    right = http.post("/auth/login", json={"email": victim, "password": users[Role.ADMIN].password})
    assert right.status_code == 429
    # One address spraying many accounts: 20 failures in all (the 5 above included).
    statuses = [guess(f"nobody{n}@example.com").status_code for n in range(15)]
    assert statuses == [401] * 15
    sprayed = guess("someone-else@example.com")
    assert sprayed.status_code == 429 and int(sprayed.headers["retry-after"]) >= 1
