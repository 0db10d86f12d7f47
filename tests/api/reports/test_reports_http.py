"""The PDF reports over HTTP: one real server for the module (uvicorn over a DuckDB store with
one asset's forecasts, risk score, sentiment and on-chain days); a paying user with a portfolio
(made through the API), another paying user and an explorer.

Each PDF is opened as a reader would: pypdf reads its pages' text (every page dated, naming the
models), and poppler's ``pdftoppm`` renders every page to PNG without an error. ``rwa report``
writes the bytes the API serves.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from pypdf import PdfReader

from api.accounts.principal import Role
from models.forecast.batch import prediction_rows
from models.forecast.forecasters import NaiveForecaster
from models.risk.batch import score_rows
from models.risk.engine import score_asset
from models.risk.market import MarketHistory
from pipelines import cli
from pipelines.contracts.served import ONCHAIN, SENTIMENT
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0, sample_duckdb
from tests.fixtures.serving import series_rows

pytestmark = pytest.mark.slow

RWA = str(Path(sys.executable).with_name("rwa"))
#: The sample's last daily bar is of T0 + 4 days; forecasts and scores saw data to T0 + 5.
LAST_DAY = (T0 + 4 * DAY).date()
GENERATED = T0 + 5 * DAY
#: Ten days of on-chain metrics and sentiment from T0: the newest data ends at T0 + 10 days.
SERIES_DAYS = 10
AS_OF = "2024-01-11 00:00 UTC"
FORECAST_MODEL = "naive@report-test"


def _load(path: Path) -> None:
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, 120)))
    forecast = NaiveForecaster().forecast(closes, 30)
    history = MarketHistory(closes, closes * 1.01, closes * 0.99, 1e-4, 0.0, None)
    with DuckDBStore(path) as store:
        store.upsert_predictions(
            prediction_rows("ousg", forecast, LAST_DAY, GENERATED, FORECAST_MODEL)
        )
        store.upsert_risk_scores(
            score_rows([score_asset(a, history, LAST_DAY) for a in SAMPLE_ASSETS])
        )
        store.upsert_onchain(series_rows(ONCHAIN, SERIES_DAYS, {"asset_id": "ousg"}))
        store.upsert_sentiment(series_rows(SENTIMENT, SERIES_DAYS, {"asset_id": "ousg"}, base=-0.4))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def users(workdir: Path) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(workdir)
    return {
        role: provision(settings, role)
        for role in (Role.PROFESSIONAL, Role.ENTERPRISE, Role.EXPLORER)
    }


@pytest.fixture(scope="module")
def serving_file(workdir: Path) -> Path:
    path = sample_duckdb(workdir / "serving.duckdb")
    _load(path)
    return path


@pytest.fixture(scope="module")
def base_url(serving_file: Path, workdir: Path, users: dict[Role, ApiCredentials]) -> Iterator[str]:
    with running_server(serving_file, workdir, users[Role.PROFESSIONAL]) as url:
        yield url


def _client(base_url: str, credentials: ApiCredentials) -> httpx.Client:
    # Generous: a report is a second or two of CPU, more on a loaded two-core machine.
    return httpx.Client(base_url=base_url, headers=credentials.headers, timeout=180)


@pytest.fixture(scope="module")
def professional(base_url: str, users: dict[Role, ApiCredentials]) -> Iterator[httpx.Client]:
    with _client(base_url, users[Role.PROFESSIONAL]) as client:
        yield client


@pytest.fixture(scope="module")
def asset_pdf(professional: httpx.Client) -> bytes:
    response = professional.get("/reports/assets/ousg.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="rwa-asset-ousg.pdf"'
    return response.content


def _pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _render_every_page(pdf: bytes, workdir: Path, name: str) -> list[Path]:
    """Every page through poppler's ``pdftoppm -png``: it must exit 0 and say nothing."""
    source = workdir / f"{name}.pdf"
    source.write_bytes(pdf)
    command = ["pdftoppm", "-png", "-r", "40", str(source), str(workdir / name)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return sorted(workdir.glob(f"{name}-*.png"))


def test_the_asset_report_reads_as_a_report(asset_pdf: bytes, workdir: Path) -> None:
    pages = _pages_text(asset_pdf)
    assert 2 <= len(pages) <= 6
    for text in pages:  # every page: what it is, dated by its data, the models behind it
        assert "Ondo Short-Term US Government Treasuries" in text
        assert f"data as of {AS_OF}" in text
        assert f"7-day forecast {FORECAST_MODEL}" in text
        assert "risk score risk-rules" in text
        assert "sentiment v9" in text  # the newest scored day's model
    whole = "\n".join(pages)
    for title in ("Key facts and evidence", "Price and forecasts", "Risk breakdown", "Factors"):
        assert title in whole
    for title in ("Sentiment", "On-chain", "Cayman Islands", "volatility_annualised"):
        assert title in whole
    images = _render_every_page(asset_pdf, workdir, "asset")
    assert len(images) == len(pages)
    assert all(image.stat().st_size > 2_000 for image in images)


def test_an_asset_without_model_outputs_says_what_is_missing(
    professional: httpx.Client,
) -> None:
    # USDC in the sample: reference data and bars, a risk score, nothing else.
    response = professional.get("/reports/assets/usdc.pdf")
    assert response.status_code == 200, response.text
    whole = "\n".join(_pages_text(response.content))
    assert "No news naming this asset in the served data." in whole
    assert "No on-chain metrics served for this asset." in whole
    assert "forecast" not in whole.split("Models:")[1].split("\n")[0]  # none in the footer


def test_rwa_report_writes_the_bytes_the_api_serves(
    asset_pdf: bytes, serving_file: Path, workdir: Path
) -> None:
    out = workdir / "cli-ousg.pdf"
    env = {**os.environ, "RWA_SERVING_BACKEND": "duckdb", "RWA_DUCKDB_PATH": str(serving_file)}
    command = [RWA, "report", "asset", "ousg", "--out", str(out)]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_bytes() == asset_pdf


def test_rwa_report_of_an_unknown_asset_fails_in_one_line(
    serving_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process: the refusal comes before anything is rendered.
    monkeypatch.setenv("RWA_SERVING_BACKEND", "duckdb")
    monkeypatch.setenv("RWA_DUCKDB_PATH", str(serving_file))
    assert cli.main(["report", "asset", "atlantis"]) == 2
    assert capsys.readouterr().err == "rwa: error: asset 'atlantis' not found\n"


def test_refusals_name_what_is_missing(
    base_url: str, professional: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    unknown = professional.get("/reports/assets/atlantis.pdf")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "asset 'atlantis' not found"}
    with _client(base_url, users[Role.EXPLORER]) as explorer:
        refused = explorer.get("/reports/assets/ousg.pdf")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "PDF reports requires the professional tier or above"}
    anonymous = httpx.get(f"{base_url}/reports/assets/ousg.pdf", timeout=60)
    assert anonymous.status_code == 401


#: A portfolio's transactions: two buys of OUSG and one of USDC on the sample's days, and a
#: partial sale (its name shows the template escapes what users write).
PORTFOLIO_NAME = "Core <b>& cash</b>"
TRADES = (
    ("buy", "ousg", "10", "100.5", T0),
    ("buy", "usdc", "2500", "1", T0 + DAY),
    ("buy", "ousg", "5", "101", T0 + 2 * DAY),
    ("sell", "ousg", "3", "102", T0 + 3 * DAY),
)


@pytest.fixture(scope="module")
def portfolio_id(professional: httpx.Client) -> int:
    created = professional.post("/portfolios", json={"name": PORTFOLIO_NAME})
    assert created.status_code == 201, created.text
    ident = int(created.json()["id"])
    for kind, asset_id, quantity, price, at in TRADES:
        body = {
            "kind": kind,
            "asset_id": asset_id,
            "quantity": quantity,
            "price": price,
            "fee": "0.5",
            "executed_at": at.isoformat(),
        }
        added = professional.post(f"/portfolios/{ident}/transactions", json=body)
        assert added.status_code == 201, added.text
    return ident


@pytest.fixture(scope="module")
def portfolio_pdf(professional: httpx.Client, portfolio_id: int) -> bytes:
    response = professional.get(f"/reports/portfolios/{portfolio_id}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = f'attachment; filename="rwa-portfolio-{portfolio_id}.pdf"'
    assert response.headers["content-disposition"] == disposition
    return response.content


def test_the_portfolio_report_reads_as_a_report(
    portfolio_pdf: bytes, workdir: Path, portfolio_id: int
) -> None:
    pages = _pages_text(portfolio_pdf)
    assert 2 <= len(pages) <= 6
    # As the valuation dates it: its newest price, OUSG's NAV of the last on-chain day (newer
    # than the last trade and USDC's last close).
    as_of = (T0 + (SERIES_DAYS - 1) * DAY).strftime("%Y-%m-%d %H:%M UTC")
    for text in pages:
        assert f"Portfolio report: {PORTFOLIO_NAME}" in text
        assert f"data as of {as_of}" in text
        assert "risk score risk-rules" in text
    whole = "\n".join(pages)
    for title in ("Value and P&L", "Allocation", "Risk", "Concentration", "Holdings"):
        assert title in whole
    assert "cost method FIFO" in whole
    assert "12" in whole and "2,500" in whole  # the quantities held: 10 + 5 - 3 OUSG, 2,500 USDC
    images = _render_every_page(portfolio_pdf, workdir, "portfolio")
    assert len(images) == len(pages)


def test_another_users_portfolio_is_not_found(
    base_url: str, portfolio_id: int, users: dict[Role, ApiCredentials]
) -> None:
    with _client(base_url, users[Role.ENTERPRISE]) as other:
        response = other.get(f"/reports/portfolios/{portfolio_id}.pdf")
        assert response.status_code == 404
        assert response.json() == {"detail": f"no portfolio {portfolio_id}"}
        # The same answer as for one that does not exist: nothing says it is someone's.
        missing = other.get("/reports/portfolios/99999.pdf").json()
        assert missing == {"detail": "no portfolio 99999"}
        assert other.get("/reports/portfolios/abc.pdf").status_code == 422
    with _client(base_url, users[Role.EXPLORER]) as explorer:
        refused = explorer.get(f"/reports/portfolios/{portfolio_id}.pdf")
    assert refused.status_code == 403
    assert "professional tier" in refused.json()["detail"]


def test_rwa_report_portfolio_writes_the_bytes_the_api_serves(
    portfolio_pdf: bytes,
    portfolio_id: int,
    serving_file: Path,
    workdir: Path,
    users: dict[Role, ApiCredentials],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process (the asset report's test runs the `rwa` program itself): what this
    # process renders must equal what the server's did.
    owner = users[Role.PROFESSIONAL]
    for name, value in {
        **owner.env(),
        "RWA_SERVING_BACKEND": "duckdb",
        "RWA_DUCKDB_PATH": str(serving_file),
    }.items():
        monkeypatch.setenv(name, value)
    out = workdir / "cli-portfolio.pdf"
    command = ["report", "portfolio", str(portfolio_id), "--email", owner.email]
    assert cli.main([*command, "--out", str(out)]) == 0
    assert out.read_bytes() == portfolio_pdf
    capsys.readouterr()
    command[-1] = users[Role.ENTERPRISE].email  # not the owner: not found, as over HTTP
    assert cli.main(command) == 2
    assert capsys.readouterr().err == f"rwa: error: no portfolio {portfolio_id}\n"
