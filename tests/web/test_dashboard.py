"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real API
server: logging in (with the TOTP step), each page drawn from the API's JSON endpoints with the
series expected in its charts, the asset table sorting, filtering and exporting CSV, an unknown
asset, a visit without a session, a non-admin at the status page, and no console errors.

One server and one browser for the module; the admin's and the analyst's sessions are logged
in once and shared by the tests (each test navigates its own pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fixtures.browser import Console
from tests.web.dashboard_data import DAYS, RISK_SCORES
from tests.web.site import (
    Site,
    chart_series,
    new_page,
    open_drawn,
    running_site,
    submit_password,
    wait_drawn,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture(scope="module")
def admin(browser: Browser, site: Site) -> tuple[Page, Console]:
    """The admin, logged in through the login page: password, then the authenticator code."""
    page, console = new_page(browser)
    submit_password(page, site, site.admin, "/dashboard/assets/ousg")
    code_step = page.locator("#code-step")
    code_step.wait_for(state="visible")
    assert page.locator("#password-step").is_hidden()
    page.fill("#code-step input[name=code]", pyotp.TOTP(site.admin_totp).now())
    page.click("#code-step button[type=submit]")
    # Back to the page asked for before logging in.
    page.wait_for_url(site.url("/dashboard/assets/ousg"))
    wait_drawn(page)
    return page, console


@pytest.fixture(scope="module")
def analyst(browser: Browser, site: Site) -> tuple[Page, Console]:
    page, console = new_page(browser)
    submit_password(page, site, site.analyst, "/dashboard/screener")
    page.wait_for_url(site.url("/dashboard/screener"))
    return page, console


@pytest.fixture
def as_admin(admin: tuple[Page, Console]) -> Iterator[Page]:
    """The admin's page; the test fails if anything it opened wrote an error to the console."""
    page, console = admin
    console.errors.clear()
    yield page
    assert console.errors == []


@pytest.fixture
def as_analyst(analyst: tuple[Page, Console]) -> Iterator[Page]:
    page, console = analyst
    console.errors.clear()
    yield page
    assert console.errors == []


# --- signing in -------------------------------------------------------------------------------


def test_a_visit_without_a_session_goes_to_the_login_page(browser: Browser, site: Site) -> None:
    answer = httpx.get(site.url("/dashboard/screener?range=30"), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login?next=/dashboard/screener%3Frange%3D30"
    page, console = new_page(browser)
    page.goto(site.url("/dashboard/status"))
    assert page.url == site.url("/dashboard/login?next=/dashboard/status")
    assert page.locator("#password-step").is_visible()
    # After logging in, only a path of the dashboard: never another site.
    page.goto(site.url("/dashboard/login?next=//evil.example/x"))
    assert page.get_attribute("body", "data-next") == "/dashboard"
    assert console.errors == []
    page.context.close()


def test_wrong_credentials_and_codes_are_refused(browser: Browser, site: Site) -> None:
    page, _ = new_page(browser)
    submit_password(page, site, replace(site.admin, password="wrong"))
    expect(page.locator("#login-message")).to_contain_text("invalid email or password")
    submit_password(page, site, site.admin)
    page.locator("#code-step").wait_for(state="visible")
    page.fill("#code-step input[name=code]", "000000")
    page.click("#code-step button[type=submit]")
    expect(page.locator("#login-message")).to_contain_text("invalid code")
    assert "/login" in page.url
    page.context.close()


def test_logging_out_ends_the_session(browser: Browser, site: Site) -> None:
    page, console = new_page(browser)
    submit_password(page, site, site.analyst, "/dashboard/screener")
    page.wait_for_url(site.url("/dashboard/screener"))
    page.click("#logout")
    page.wait_for_url(site.url("/dashboard/login"))
    page.goto(site.url("/dashboard"))
    assert "/dashboard/login" in page.url
    assert console.errors == []
    page.context.close()


# --- the asset page ---------------------------------------------------------------------------


def test_the_asset_page_draws_prices_and_both_forecasts_with_their_bands(
    as_admin: Page, site: Site
) -> None:
    open_drawn(as_admin, site, "/dashboard/assets/ousg?range=90")
    series = chart_series(as_admin, "price")
    assert len(series["Price"]["data"]) == 90
    assert len(series["Volume"]["data"]) == 90
    for horizon in (7, 30):
        forecast = series[f"Forecast {horizon}d"]["data"]
        assert len(forecast) == horizon
        # dashboard_data: day d forecasts base + DAYS + d, 80% +-d, 95% +-2d
        first_value = forecast[0][1]
        assert first_value == 100.0 + DAYS + 1
        for level, width in (("80", 1), ("95", 2)):
            lower = series[f"{level}% lower {horizon}d"]["data"]
            band = series[f"{level}% band {horizon}d"]["data"]
            assert [p[0] for p in lower] == [p[0] for p in forecast]
            day = horizon  # the last point: lower = value - width * day, band = 2 * width * day
            assert lower[-1][1] == forecast[-1][1] - width * day
            assert band[-1][1] == 2 * width * day
    assert "as of 2024-04-29" in as_admin.inner_text("#price [data-source]")


def test_the_asset_page_shows_every_panel_with_its_source(as_admin: Page, site: Site) -> None:
    open_drawn(as_admin, site, "/dashboard/assets/ousg")
    states = as_admin.eval_on_selector_all(".panel", "ps => ps.map(p => [p.id, p.dataset.state])")
    assert dict(states) == dict.fromkeys(
        ["price", "nav", "yield", "supply", "risk", "sentiment", "facts"], "ready"
    )
    assert set(chart_series(as_admin, "nav")) == {"NAV", "Price", "Premium to NAV"}
    assert set(chart_series(as_admin, "yield")) == {"7-day yield (annualised)", "3-month T-bill"}
    # tests.fixtures.market: OUSG's 7-day yield is 4.5% + 0.01% a day, the T-bill 5.25%
    assert "Yield 4.89% (nav) · T-bill 5.25% · spread -0.36%" in as_admin.inner_text("#yield")
    risk = chart_series(as_admin, "risk")["Risk score"]["data"]
    assert risk[-1] == RISK_SCORES["ousg"]
    assert "realized volatility" in as_admin.inner_text("#risk")
    assert "Cayman Islands" in as_admin.inner_text("#facts")
    flag = as_admin.inner_text("#facts dd[data-flag='attestations']")
    assert flag in ("yes", "no", "unknown")
    headlines = as_admin.eval_on_selector_all("#sentiment li", "ls => ls.map(l => l.dataset.id)")
    assert headlines == ["n2", "n1", "n0"]  # newest first
    for panel in ("price", "nav", "yield", "supply", "risk", "sentiment", "facts"):
        assert as_admin.inner_text(f"#{panel} [data-source]").startswith("Source: ")


def test_panels_without_data_say_so(as_admin: Page, site: Site) -> None:
    open_drawn(as_admin, site, "/dashboard/assets/usdc")
    for panel, words in (
        ("nav", "No NAV"),
        ("risk", "Not scored yet"),
        ("sentiment", "No news"),
    ):
        assert as_admin.get_attribute(f"#{panel}", "data-state") == "empty"
        assert words in as_admin.inner_text(f"#{panel}")
    assert "Forecast 7d" not in chart_series(as_admin, "price")


def test_a_range_preset_redraws_the_panels(as_admin: Page, site: Site) -> None:
    open_drawn(as_admin, site, "/dashboard/assets/btc?range=90")
    as_admin.evaluate("delete document.body.dataset.drawn")
    as_admin.click(".ranges button[data-range='30']")
    wait_drawn(as_admin)
    assert as_admin.url.endswith("range=30")
    assert len(chart_series(as_admin, "price")["Price"]["data"]) == 30
    # BTC's feed stopped (tests.fixtures.market): its supply is shown as stale, not current
    assert "stale" in as_admin.inner_text("#supply [data-source]")


def test_an_unknown_asset_says_so(admin: tuple[Page, Console], site: Site) -> None:
    page, console = admin
    console.errors.clear()
    answer = page.goto(site.url("/dashboard/assets/no-such-asset"))
    assert answer is not None and answer.status == 404
    text = page.inner_text("#unknown-asset")
    assert "Unknown asset" in text and "no-such-asset" in text
    # The only error is the document's own 404.
    assert all("404" in line for line in console.errors), console.errors


def test_the_search_opens_an_asset(as_admin: Page, site: Site) -> None:
    open_drawn(as_admin, site, "/dashboard/assets/ousg")
    as_admin.fill("#asset-search input", "BTC")
    as_admin.press("#asset-search input", "Enter")
    as_admin.wait_for_url(site.url("/dashboard/assets/btc"))
    wait_drawn(as_admin)


# --- the overview ---------------------------------------------------------------------------------


def _table_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#assets tbody tr", "rs => rs.map(r => r.dataset.id)")


def test_the_overview_draws_kpis_composition_peg_and_news(as_analyst: Page, site: Site) -> None:
    open_drawn(as_analyst, site, "/dashboard?range=30")
    kpis = as_analyst.eval_on_selector_all(".kpi .label", "ls => ls.map(l => l.textContent)")
    assert kpis == [
        "Total RWA value",
        "Holders",
        "Assets",
        "Treasury yield vs T-bill",
        "Stablecoin supply",
    ]
    assert "7d:" in as_analyst.inner_text("#kpis")
    composition = chart_series(as_analyst, "composition")
    assert set(composition) >= {"tokenized treasury", "stablecoin"}
    assert chart_series(as_analyst, "networks")["Value by network"]["data"]
    peg = chart_series(as_analyst, "peg")
    assert set(peg) == {"USDC"} and len(peg["USDC"]["data"]) == 30
    news = as_analyst.eval_on_selector_all("#news li", "ls => ls.map(l => l.dataset.id)")
    assert news == ["n2", "n1", "n0"]
    for panel in ("composition", "networks", "assets", "peg", "news"):
        assert as_analyst.get_attribute(f"#{panel}", "data-state") == "ready", panel


def test_the_assets_table_sorts_filters_and_exports_csv(as_analyst: Page, site: Site) -> None:
    open_drawn(as_analyst, site, "/dashboard")
    # by value, largest first (tests.fixtures.market): BTC, then USDC, then OUSG
    assert _table_ids(as_analyst) == ["btc", "usdc", "ousg"]
    as_analyst.click("#assets th[data-key='symbol']")
    assert _table_ids(as_analyst) == ["btc", "ousg", "usdc"]
    as_analyst.click("#assets th[data-key='symbol']")
    assert _table_ids(as_analyst) == ["usdc", "ousg", "btc"]
    # BTC's feed stopped: its row says stale
    assert "stale" in as_analyst.inner_text("#assets tbody tr[data-id='btc']")
    as_analyst.fill("#asset-filter", "ondo")
    assert _table_ids(as_analyst) == ["ousg"]
    assert as_analyst.inner_text("#asset-count") == "1 of 3 assets"
    as_analyst.fill("#asset-filter", "")
    as_analyst.select_option("#class-filter", "crypto")
    assert _table_ids(as_analyst) == ["btc"]
    with as_analyst.expect_download() as download:
        as_analyst.click("#export-csv")
    csv = Path(download.value.path()).read_text()
    header, *rows = csv.strip().splitlines()
    assert header.startswith("asset_id,symbol,name,asset_class,network")
    assert [row.split(",")[0] for row in rows] == ["btc"]
    assert download.value.suggested_filename.startswith("rwa-assets-")


# --- the screener and the status page -----------------------------------------------------------


def test_the_screener_compares_the_picked_assets(as_analyst: Page, site: Site) -> None:
    open_drawn(as_analyst, site, "/dashboard/screener?assets=ousg,btc&range=30")
    performance = chart_series(as_analyst, "performance")
    assert set(performance) == {"OUSG", "BTC"}
    # normalised: the first day is 100
    assert all(s["data"][0][1] == 100 for s in performance.values())
    assert len(performance["BTC"]["data"]) == 30
    assert set(chart_series(as_analyst, "volatility")) == {"OUSG", "BTC"}
    rows = as_analyst.eval_on_selector_all("#compare tbody tr", "rs => rs.map(r => r.dataset.id)")
    assert sorted(rows) == ["btc", "ousg"]
    # picking a third asset redraws with it
    as_analyst.evaluate("delete document.body.dataset.drawn")
    as_analyst.check("#picker input[value='usdc']")
    wait_drawn(as_analyst)
    assert set(chart_series(as_analyst, "performance")) == {"OUSG", "BTC", "USDC"}
    picked = parse_qs(urlparse(as_analyst.url).query)["assets"][0].split(",")
    assert sorted(picked) == ["btc", "ousg", "usdc"]


def test_the_status_page_shows_runs_quarantine_and_model_accuracy(
    as_admin: Page, site: Site
) -> None:
    open_drawn(as_admin, site, "/dashboard/status")
    states = as_admin.eval_on_selector_all(".panel", "ps => ps.map(p => [p.id, p.dataset.state])")
    assert dict(states) == dict.fromkeys(
        ["tables", "quarantine", "batches", "coverage", "models"], "ready"
    )
    tables = as_admin.inner_text("#tables")
    assert "ohlcv_1d" in tables and "240" in tables
    assert "high below low" in as_admin.inner_text("#quarantine")
    coverage = chart_series(as_admin, "coverage")
    assert set(coverage) == {"80% interval coverage", "95% interval coverage", "MAE / naive MAE"}
    # dashboard_data.build_lake: OUSG's closes all inside the intervals, BTC's all outside
    assert {point[1] for point in coverage["95% interval coverage"]["data"]} == {0.5}
    models = as_admin.eval_on_selector_all(
        "#models tbody tr", "rs => rs.map(r => [r.dataset.id, r.lastElementChild.textContent])"
    )
    assert dict(models) == {"btc": "yes", "ousg": "no"}


# --- who sees what ------------------------------------------------------------------------------


def test_a_non_admin_gets_no_status_page(analyst: tuple[Page, Console], site: Site) -> None:
    page, console = analyst
    console.errors.clear()
    open_drawn(page, site, "/dashboard/screener")
    assert page.locator("header nav a[href='/dashboard/status']").count() == 0
    answer = page.goto(site.url("/dashboard/status"))
    assert answer is not None and answer.status == 403
    assert "Admins only" in page.inner_text("#forbidden")
    # The only error is the document's own 403.
    assert all("403" in line for line in console.errors), console.errors


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    answer = httpx.get(site.url("/dashboard/login"))
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("style-src-attr")[0]
    assert "http" not in policy  # nothing from another origin, no CDN


def test_the_chart_library_is_served_from_this_origin(site: Site) -> None:
    answer = httpx.get(site.url("/dashboard/static/vendor/echarts.min.js"))
    assert answer.status_code == 200
    assert len(answer.content) > 500_000
