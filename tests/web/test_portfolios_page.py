"""The portfolios page in a real browser (Debian's chromium driven by Playwright) against a real
API server on the dashboard's test store and a SQLite operational database: a portfolio's
figures, holdings, value and P&L chart, allocation (by asset, then by class) and risk drawn
without a console error; a ``portfolio_update`` published through the real channel changes the
shown value without a reload (and another portfolio's does not); a transaction added through
the form appears in the holdings, an oversold one is refused with the API's words and changes
nothing; a CSV file with bad rows imports nothing and lists them; an explorer gets neither the
PDF button nor the risk panel, nor another user's portfolio by its id in the URL.

One server and one browser for the module; each reader's session is a context of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.accounts.principal import Role
from api.events.bus import EventType
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.browser import Console
from tests.fixtures.sample_data import DAY, T0
from tests.web.dashboard_data import build_store
from tests.web.site import (
    DRAWN_TIMEOUT_MS,
    chart_series,
    publish_event,
    signed_in,
    wait_drawn,
    wait_live,
)

pytestmark = pytest.mark.timeout(300)

#: The professional's portfolio: OUSG (NAV-priced in the test store), BTC and USDC, part of
#: the BTC sold again.
TRADES: tuple[dict[str, str], ...] = (
    {"kind": "buy", "asset_id": "ousg", "quantity": "10", "price": "101", "day": "5"},
    {"kind": "buy", "asset_id": "btc", "quantity": "0.5", "price": "42010", "day": "10"},
    {"kind": "buy", "asset_id": "usdc", "quantity": "1000", "price": "1", "day": "20"},
    {"kind": "sell", "asset_id": "btc", "quantity": "0.2", "price": "42080", "day": "80"},
)


@dataclass(frozen=True)
class PortfoliosSite:
    base_url: str
    professional: ApiCredentials
    explorer: ApiCredentials
    #: The professional's portfolio.
    portfolio: int

    def api(self, who: ApiCredentials) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=who.headers, timeout=30)


def trade(spec: dict[str, str]) -> dict[str, Any]:
    day = T0 + int(spec["day"]) * DAY
    return {k: v for k, v in spec.items() if k != "day"} | {"executed_at": day.isoformat()}


def create_portfolio(client: httpx.Client, name: str, trades: tuple[dict[str, str], ...]) -> int:
    made = client.post("/portfolios", json={"name": name, "cost_method": "fifo"})
    assert made.status_code == 201, made.text
    portfolio: int = made.json()["id"]
    for spec in trades:
        added = client.post(f"/portfolios/{portfolio}/transactions", json=trade(spec))
        assert added.status_code == 201, added.text
    return portfolio


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortfoliosSite]:
    workdir = tmp_path_factory.mktemp("portfolios-page")
    store = build_store(workdir / "serving.duckdb")
    settings = accounts_settings(workdir)
    professional = provision(settings, Role.PROFESSIONAL)
    explorer = provision(settings, Role.EXPLORER)
    with running_server(store, workdir, professional) as base_url:
        with httpx.Client(base_url=base_url, headers=professional.headers, timeout=30) as api:
            portfolio = create_portfolio(api, "Core", TRADES)
        yield PortfoliosSite(base_url, professional, explorer, portfolio)


# The site first: the browser (and its pages' open streams) closes before the server stops.
@pytest.fixture(scope="module")
def reader(site: PortfoliosSite, browser: Browser) -> tuple[Page, Console]:
    return signed_in(browser, site.base_url, site.professional)


@pytest.fixture
def page(reader: tuple[Page, Console], site: PortfoliosSite) -> Iterator[Page]:
    """The professional's portfolio page, drawn; the test fails on a console error."""
    page, console = reader
    console.errors.clear()
    page.goto(f"{site.base_url}/dashboard/portfolios?portfolio={site.portfolio}")
    wait_drawn(page)
    yield page
    assert console.errors == []


def held(page: Page) -> list[str]:
    """The asset ids of the holdings table's rows, top to bottom."""
    return [r.get_attribute("data-id") or "" for r in page.locator("#holdings tbody tr").all()]


def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_the_page_draws_figures_holdings_charts_allocation_and_risk(
    site: PortfoliosSite, page: Page
) -> None:
    assert (
        page.get_attribute("header nav a[href='/dashboard/portfolios']", "aria-current") == "page"
    )
    assert page.input_value("#portfolio-select") == str(site.portfolio)
    with site.api(site.professional) as api:
        valuation = api.get(f"/portfolios/{site.portfolio}/valuation").json()
    # The figures are the API's.
    value = float(valuation["market_value"])
    assert page.inner_text("#kpi-value .value") == f"${value / 1000:.2f}k"
    # Holdings: every held asset, BTC's quantity after the partial sale.
    assert sorted(held(page)) == ["btc", "ousg", "usdc"]
    btc = texts(page, "#holdings tbody tr[data-id='btc'] td")
    assert btc[1] == "0.3"
    assert "NAV" in texts(page, "#holdings tbody tr[data-id='ousg'] td")[2]
    # Value and P&L over time: a point per day since the first trade.
    series = chart_series(page, "history")
    assert set(series) == {"Value", "Total P&L", "Unrealized P&L"}
    assert len(series["Value"]["data"]) > 50
    # Allocation by asset, then by class.
    pie = chart_series(page, "allocation")
    assert sorted(d["name"] for d in pie["By asset"]["data"]) == ["btc", "ousg", "usdc"]
    page.click("#allocation-by button[data-by=class]")
    expect(page.locator("#allocation-by button[data-by=class]")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.wait_for_function(
        "() => echarts.getInstanceByDom(document.querySelector('#allocation [data-chart]'))"
        ".getOption().series[0].name === 'By class'",
        timeout=DRAWN_TIMEOUT_MS,
    )
    classes = {d["name"] for d in chart_series(page, "allocation")["By class"]["data"]}
    assert "stablecoin" in classes
    # Risk (the professional tier has risk detail) and the PDF report of this portfolio.
    expect(page.locator("#risk")).to_have_attribute("data-state", "ready")
    assert "VaR" in page.inner_text("#risk")
    href = page.get_attribute("#pdf-report", "href")
    assert href == f"/reports/portfolios/{site.portfolio}.pdf"
    assert page.locator("#pdf-report").is_visible()
    # (GET /reports/portfolios/{id}.pdf itself is tests/api/reports' to render: ~7 s here.)


def test_a_portfolio_update_changes_the_shown_value_live(site: PortfoliosSite, page: Page) -> None:
    wait_live(page)
    shown = page.inner_text("#kpi-value .value")
    update = {
        "portfolio_id": site.portfolio,
        "currency": "USD",
        "value": "123456.78",
        "unrealized_pnl": "2345.6",
        "total_pnl": "2400",
        "as_of": T0.isoformat(),
    }
    # Another portfolio's update (its owner's) leaves this page as it was.
    publish_event(
        site.professional,
        EventType.PORTFOLIO_UPDATE,
        update | {"portfolio_id": site.portfolio + 1000},
        user_id=site.professional.user_id,
    )
    publish_event(
        site.professional,
        EventType.PORTFOLIO_UPDATE,
        update,
        user_id=site.professional.user_id,
    )
    expect(page.locator("#kpi-value .value")).to_have_text("$123.46k", timeout=DRAWN_TIMEOUT_MS)
    assert shown != "$123.46k"
    assert page.inner_text("#kpi-total .value") == "+$2.40k"
    assert "Value now $123.46k" in page.inner_text("#announce")


def test_a_transaction_is_added_through_the_form_and_an_oversold_one_refused(
    site: PortfoliosSite, reader: tuple[Page, Console], page: Page
) -> None:
    form = page.locator("#transaction-form")

    def submit(kind: str, quantity: str) -> None:
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=asset_id]").fill("usdc")
        form.locator("input[name=quantity]").fill(quantity)
        form.locator("input[name=price]").fill("1")
        form.locator("input[name=executed_at]").fill("2024-04-01T12:00")
        form.locator("button[type=submit]").click()

    submit("sell", "5000")  # more than the 1000 held
    expect(page.locator("#transaction-message")).to_contain_text(
        "Not added:", timeout=DRAWN_TIMEOUT_MS
    )
    assert "usdc" in page.inner_text("#transaction-message")
    console = reader[1]
    assert console.errors and all("status of 4" in e for e in console.errors), console.errors
    console.errors.clear()
    submit("buy", "250")
    expect(page.locator("#transaction-message")).to_have_text(
        "Added: buy 250 usdc", timeout=DRAWN_TIMEOUT_MS
    )
    usdc = page.locator("#holdings tbody tr[data-id='usdc'] td").nth(1)
    expect(usdc).to_have_text("1250", timeout=DRAWN_TIMEOUT_MS)
    with site.api(site.professional) as api:
        held = api.get(f"/portfolios/{site.portfolio}/holdings").json()["holdings"]
        assert {h["asset_id"]: h["quantity"] for h in held}["usdc"] == "1250"
        # Undo: the other tests see the module's portfolio as it was.
        listed = api.get(f"/portfolios/{site.portfolio}/transactions").json()["transactions"]
        newest = max(listed, key=lambda t: t["id"])
        api.delete(f"/portfolios/{site.portfolio}/transactions/{newest['id']}").raise_for_status()


BAD_CSV = (
    "executed_at,kind,asset_id,quantity,price\n"
    "2024-02-01T00:00:00Z,buy,usdc,100,1\n"
    "2024-02-02T00:00:00Z,buy,btc,-1,42000\n"
    "2024-02-03T00:00:00Z,swap,btc,1,42000\n"
)
GOOD_CSV = (
    "executed_at,kind,asset_id,quantity,price\n"
    "2024-02-01T00:00:00Z,buy,usdc,100,1\n"
    "2024-02-02T00:00:00Z,buy,btc,0.01,42000\n"
)


def test_a_csv_with_bad_rows_imports_nothing_and_says_where(
    site: PortfoliosSite, reader: tuple[Page, Console], page: Page
) -> None:
    with site.api(site.professional) as api:
        other = create_portfolio(api, "Imports", ())
    try:
        page.reload()
        wait_drawn(page)
        page.select_option("#portfolio-select", str(other))
        expect(page.locator("#holdings")).to_have_attribute("data-state", "empty")

        def upload(text: str) -> None:
            file = {"name": "trades.csv", "mimeType": "text/csv", "buffer": text.encode()}
            page.set_input_files("#import-form input[type=file]", file)  # type: ignore[arg-type]
            page.click("#import-form button[type=submit]")

        upload(BAD_CSV)
        report = page.locator("#import-report")
        expect(report).to_be_visible(timeout=DRAWN_TIMEOUT_MS)
        lines = report.locator("p").all_inner_texts()
        assert lines[0].startswith("Nothing imported:")
        assert lines[0] == "Nothing imported: 2 problem(s) in the file"
        assert lines[1].startswith("Row 3 (quantity): Input should be greater than 0"), lines
        assert lines[2].startswith("Row 4 (kind):"), lines
        with site.api(site.professional) as api:
            assert api.get(f"/portfolios/{other}/transactions").json()["total"] == 0
        console = reader[1]
        assert console.errors and all("status of 422" in e for e in console.errors)
        console.errors.clear()
        upload(GOOD_CSV)
        expect(page.locator("#import-message")).to_have_text(
            "Imported 2 transactions from trades.csv", timeout=DRAWN_TIMEOUT_MS
        )
        assert report.is_hidden()
        expect(page.locator("#holdings tbody tr")).to_have_count(2, timeout=DRAWN_TIMEOUT_MS)
    finally:
        with site.api(site.professional) as api:
            api.delete(f"/portfolios/{other}").raise_for_status()


HOSTILE = "<img src=x onerror=alert(1)>"


def test_an_explorer_gets_no_pdf_button_and_no_risk_panel(
    site: PortfoliosSite, browser: Browser
) -> None:
    with site.api(site.explorer) as api:
        own = create_portfolio(api, HOSTILE, TRADES[2:3])
    page, console = signed_in(browser, site.base_url, site.explorer)
    # Another user's portfolio asked for in the URL: the reader's own is shown instead.
    page.goto(f"{site.base_url}/dashboard/portfolios?portfolio={site.portfolio}")
    wait_drawn(page)
    assert page.input_value("#portfolio-select") == str(own)
    # Its name is text, never markup.
    assert page.locator("#portfolio-select option").all_inner_texts() == [HOSTILE]
    assert page.locator("img").count() == 0
    assert page.locator("#pdf-report").count() == 0
    assert page.locator("#risk").count() == 0
    assert "up to 2 portfolios" in page.inner_text(".page-head")
    assert held(page) == ["usdc"]
    assert console.errors == []
    page.context.close()
