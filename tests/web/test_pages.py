"""The dashboard's pages without a browser: where a login may send the user, and a page that
says so when the chart library was not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.web import pages
from pipelines.serving.duckdb_store import DuckDBStore
from tests.fixtures.accounts import ApiCredentials, authorised_client
from tests.fixtures.sample_data import sample_duckdb


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/dashboard"),
        ("/dashboard/assets/ousg?range=30", "/dashboard/assets/ousg?range=30"),
        ("/dashboard?range=7", "/dashboard?range=7"),
        ("//evil.example/dashboard", "/dashboard"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("/dashboardx", "/dashboard"),
        ("/docs", "/dashboard"),
        ("/dashboard/\\evil", "/dashboard"),
        ("/dashboard/\r\nSet-Cookie: x", "/dashboard"),
    ],
)
def test_a_login_returns_to_dashboard_pages_only(target: str | None, expected: str) -> None:
    assert pages.safe_next(target) == expected


def test_a_page_says_so_when_the_chart_library_is_missing(
    api_credentials: ApiCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sample_duckdb(tmp_path / "serving.duckdb")
    with authorised_client(api_credentials, lambda: DuckDBStore(store, read_only=True)) as client:
        client.cookies.set("rwa_access", api_credentials.access_token)
        page = client.get("/dashboard/assets/ousg", headers={"Authorization": ""})
        assert page.status_code == 200
        assert "bundle-missing" not in page.text
        assert 'src="/dashboard/static/vendor/echarts.min.js" async>' in page.text
        monkeypatch.setattr(pages, "CHART_BUNDLE", tmp_path / "absent.js")
        page = client.get("/dashboard/assets/ousg")
        assert 'id="bundle-missing"' in page.text
        assert "bash infra/local/install.sh" in page.text
        assert "echarts.min.js" not in page.text.split("</main>")[1]
