"""Portfolios over HTTP against a running server, on SQLite and on PostgreSQL: created, listed,
renamed, deleted; transactions recorded (strings or numbers, exact to 18 decimals), listed
newest first with filters, deleted; holdings from the ledger; every hostile path a clear 4xx
that changes nothing: an oversell (direct, backdated, or by deleting the buy a sale drew on),
an unknown asset, a bad field, another user's portfolio, the tier's cap, a read-only key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.accounts.database import create_ops_engine
from api.accounts.principal import Role
from api.portfolios.csv_import import MAX_ROWS
from api.portfolios.tables import Portfolio, PortfolioTransaction
from api.security.tiers import MATRIX
from tests.api.accounts.account_server import AccountServer, explorer, server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

__all__ = ["explorer", "server"]  # fixtures

EXPLORER_PORTFOLIOS = MATRIX[Role.EXPLORER].portfolios
CSV_TYPE = {"content-type": "text/csv"}
CSV = (
    b"executed_at,kind,asset_id,quantity,price,fee,wallet_address,chain,note\n"
    b"2024-01-01T00:00:00Z,buy,btc,2,100,1,,,first\n"
    b"2024-01-02T00:00:00+01:00,transfer_in,usdc,10.5,1,,"
    b'0x52908400098527886E0F7030069857D2E4169EE7,ethereum,"from, a wallet"\n'
    b"2024-01-03T00:00:00Z,sell,btc,0.5,150,0.25,,,\n"
)


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def portfolio(http: httpx.Client, name: str, method: str = "fifo") -> dict[str, Any]:
    return created(http.post("/portfolios", json={"name": name, "cost_method": method}))


def trade(
    kind: str, quantity: str, day: int, price: str | None = "1", **more: Any
) -> dict[str, Any]:
    body = {
        "kind": kind,
        "asset_id": more.pop("asset_id", "btc"),
        "quantity": quantity,
        "executed_at": f"2024-01-{day:02d}T00:00:00Z",
        **more,
    }
    return body if price is None else body | {"price": price}


def record(http: httpx.Client, portfolio_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return created(http.post(f"/portfolios/{portfolio_id}/transactions", json=body))


def state(http: httpx.Client, portfolio_id: int) -> tuple[Any, Any]:
    """Everything a refused change must leave as it was."""
    listed = http.get(f"/portfolios/{portfolio_id}/transactions", params={"limit": 500})
    return listed.json(), http.get(f"/portfolios/{portfolio_id}/holdings").json()


def test_a_portfolio_is_created_listed_renamed_and_deleted(server: AccountServer) -> None:
    with server.client() as http:
        core = portfolio(http, "Core")
        assert (core["cost_method"], core["currency"], core["transactions"]) == ("fifo", "USD", 0)
        assert http.get(f"/portfolios/{core['id']}").json() == core
        other = portfolio(http, "Other", "average")
        taken = http.post("/portfolios", json={"name": "Core"})
        assert taken.status_code == 409
        assert taken.json() == {"detail": "you already have a portfolio named 'Core'"}

        page = http.get("/portfolios", params={"limit": 1, "offset": 1}).json()
        assert (page["total"], [p["id"] for p in page["portfolios"]]) == (2, [other["id"]])

        renamed = http.patch(f"/portfolios/{core['id']}", json={"name": "Core 2"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Core 2"
        assert renamed.json()["updated_at"] > core["updated_at"]
        clash = http.patch(f"/portfolios/{core['id']}", json={"name": "Other"})
        assert clash.status_code == 409

        for portfolio_id in (core["id"], other["id"]):
            assert http.delete(f"/portfolios/{portfolio_id}").status_code == 204
            assert http.get(f"/portfolios/{portfolio_id}").status_code == 404
        assert http.get("/portfolios").json()["total"] == 0
        audit = http.get("/me/export").json()["audit_log"]
        ours = [(e["action"], e["detail"]) for e in audit if e["action"].startswith("portfolio")]
        assert ("portfolio.create", {"portfolio_id": core["id"]}) in ours
        assert ("portfolio.delete", {"portfolio_id": other["id"]}) in ours


def test_transactions_replay_into_holdings_by_the_cost_method(server: AccountServer) -> None:
    """FIFO: the sale of 15 takes the first lot (1005) and half the second (1002.5); average
    cost takes 15 of 20 units costing 3010 (2257.5)."""
    with server.client() as http:
        book = portfolio(http, "Hand computed")
        path = f"/portfolios/{book['id']}"
        first = record(http, book["id"], trade("buy", "10", 1, "100", fee="5"))
        assert (first["quantity"], first["price"], first["fee"]) == ("10", "100", "5")
        record(http, book["id"], trade("buy", "10", 2, "200", fee="5"))
        sale = record(http, book["id"], trade("sell", "15", 3, "300", fee="15"))
        record(http, book["id"], trade("buy", "1", 2, "1", asset_id="usdc", chain="ethereum"))

        (btc, usdc) = http.get(f"{path}/holdings").json()["holdings"]
        assert btc == {
            "asset_id": "btc",
            "quantity": "5",
            "cost_basis": "1002.5",
            "average_cost": "200.5",
            "realized_pnl": "2477.5",
            "fees": "25",
        }
        assert usdc["quantity"] == "1" and usdc["realized_pnl"] == "0"
        assert http.patch(path, json={"cost_method": "average"}).status_code == 200
        held = http.get(f"{path}/holdings").json()
        assert held["cost_method"] == "average" and held["realized_pnl"] == "2227.5"
        assert held["holdings"][0]["cost_basis"] == "752.5"

        listed = http.get(f"{path}/transactions").json()
        assert listed["total"] == 4
        assert [t["executed_at"][:10] for t in listed["transactions"]] == [
            "2024-01-03",
            "2024-01-02",
            "2024-01-02",
            "2024-01-01",
        ]
        assert listed["transactions"][0] == sale
        only = {"asset_id": "btc", "kind": "buy", "since": "2024-01-02", "until": "2024-01-03"}
        filtered = http.get(f"{path}/transactions", params=only).json()
        assert [t["price"] for t in filtered["transactions"]] == ["200"]
        assert http.get(path).json()["transactions"] == 4
        # Deleting the last sale is always possible; it realizes nothing any more.
        assert http.delete(f"{path}/transactions/{sale['id']}").status_code == 204
        assert http.get(f"{path}/holdings").json()["realized_pnl"] == "0"
        assert http.delete(f"{path}/transactions/{sale['id']}").status_code == 404
        assert http.delete(path).status_code == 204


def test_eighteen_decimals_round_trip_exactly_as_strings_or_numbers(server: AccountServer) -> None:
    big, tiny = "12345678901234567890.123456789012345678", "0.000000000000000001"
    with server.client() as http:
        book = portfolio(http, "Exact")
        path = f"/portfolios/{book['id']}/transactions"
        record(http, book["id"], trade("buy", big, 1, tiny, asset_id="usdc", fee=tiny))
        # A JSON number is read exactly too (never through a double).
        raw = (
            '{"kind": "buy", "asset_id": "ousg", "quantity": 0.123456789012345678, '
            '"price": 100.000000000000000001, "executed_at": "2024-01-02T00:00:00+02:00"}'
        )
        numbers = http.post(path, content=raw, headers={"content-type": "application/json"})
        assert created(numbers)["quantity"] == "0.123456789012345678"
        assert numbers.json()["price"] == "100.000000000000000001"
        assert numbers.json()["executed_at"].startswith("2024-01-01T22:00:00")
        stored = {t["asset_id"]: t for t in http.get(path).json()["transactions"]}
        assert (stored["usdc"]["quantity"], stored["usdc"]["price"]) == (big, tiny)
        holdings = http.get(f"/portfolios/{book['id']}/holdings").json()["holdings"]
        # 0.123456789012345678 * 100.000000000000000001, exactly, to 18 decimals.
        assert holdings[0]["cost_basis"] == "12.3456789012345678"
        assert holdings[1]["quantity"] == big
        assert http.delete(f"/portfolios/{book['id']}").status_code == 204


def test_an_oversell_is_refused_however_it_comes_and_changes_nothing(
    server: AccountServer,
) -> None:
    with server.client() as http:
        book = portfolio(http, "Oversold")
        pid = book["id"]
        path = f"/portfolios/{pid}"
        buy = record(http, pid, trade("buy", "2", 10))
        sale = record(http, pid, trade("sell", "2", 20))
        before = state(http, pid)

        direct = http.post(f"{path}/transactions", json=trade("sell", "0.5", 21))
        assert direct.status_code == 409
        assert direct.json()["detail"] == (
            "sell of 0.5 btc at 2024-01-21T00:00:00+00:00 (the new one) would exceed the 0 "
            "btc held then: nothing was added"
        )
        # A sale backdated before the later one: that later sale is what no longer fits.
        backdated = http.post(f"{path}/transactions", json=trade("sell", "1", 15))
        assert backdated.status_code == 409
        assert (
            f"(transaction {sale['id']}) would exceed the 1 btc held then"
            in (backdated.json()["detail"])
        )
        out = http.post(f"{path}/transactions", json=trade("transfer_out", "1", 5, price=None))
        assert out.status_code == 409 and "transfer_out of 1 btc" in out.json()["detail"]
        # The buy the sale drew on cannot go.
        undone = http.delete(f"{path}/transactions/{buy['id']}")
        assert undone.status_code == 409
        assert undone.json()["detail"].startswith(
            f"deleting transaction {buy['id']}: sell of 2 btc at 2024-01-20"
        )
        assert state(http, pid) == before
        assert http.delete(path).status_code == 204


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-1"}, "quantity"),
    ({"quantity": "1.0000000000000000001"}, "quantity"),
    ({"quantity": "1e20"}, "quantity"),
    ({"quantity": "NaN"}, "quantity"),
    ({"fee": "-0.01"}, "fee"),
    ({"price": None}, "price"),
    ({"kind": "short"}, "kind"),
    ({"executed_at": "2024-01-01T00:00:00"}, "executed_at"),
    ({"executed_at": "2999-01-01T00:00:00Z"}, "executed_at"),
    ({"chain": "Ethereum Mainnet"}, "chain"),
    ({"wallet_address": "0x1234"}, "wallet_address"),
    ({"asset_id": "nope"}, "asset_id"),
    ({"surprise": 1}, "surprise"),
]


def test_a_bad_field_or_an_unknown_asset_is_a_422_naming_it(server: AccountServer) -> None:
    with server.client() as http:
        book = portfolio(http, "Validated")
        path = f"/portfolios/{book['id']}/transactions"
        for change, field in BAD_FIELDS:
            body = trade("buy", "1", 1) | change
            answer = http.post(path, json=body)
            assert answer.status_code == 422, (change, answer.text)
            assert [e["loc"] for e in answer.json()["detail"]] == [["body", field]], change
        unknown = http.post(path, json=trade("buy", "1", 1, asset_id="nope")).json()
        assert unknown["detail"][0]["msg"] == "unknown asset 'nope': not among GET /assets"
        assert http.get(path).json()["total"] == 0
        assert http.post("/portfolios", json={"name": " "}).status_code == 422
        assert http.post("/portfolios", json={"name": "x", "currency": "EUR"}).status_code == 422
        assert http.delete(f"/portfolios/{book['id']}").status_code == 204


def test_another_users_portfolio_is_not_found_by_any_verb(
    server: AccountServer, explorer: ApiCredentials
) -> None:
    with server.client() as http:
        book = portfolio(http, "Mine")
        pid = book["id"]
        buy = record(http, pid, trade("buy", "1", 1))
        before = state(http, pid), http.get(f"/portfolios/{pid}").json()
    path = f"/portfolios/{pid}"
    with server.client(explorer.headers) as other:
        answers = [
            other.get(path),
            other.patch(path, json={"name": "Theirs"}),
            other.delete(path),
            other.get(f"{path}/transactions"),
            other.post(f"{path}/transactions", json=trade("sell", "1", 2)),
            other.delete(f"{path}/transactions/{buy['id']}"),
            other.get(f"{path}/holdings"),
            other.post(f"{path}/transactions/import", content=CSV, headers=CSV_TYPE),
        ]
        assert [a.status_code for a in answers] == [404] * len(answers)
        # The same answer as for an id that never existed: ids reveal nothing.
        assert {a.json()["detail"] for a in answers} == {f"no portfolio {pid}"}
        assert other.get("/portfolios/2147483647").json() == {"detail": "no portfolio 2147483647"}
        assert other.get("/portfolios").json()["total"] == 0
    with server.client() as http:
        assert (state(http, pid), http.get(path).json()) == before
        # A transaction id of another portfolio is not found in this one.
        mine = portfolio(http, "Also mine")
        elsewhere = http.delete(f"/portfolios/{mine['id']}/transactions/{buy['id']}")
        assert elsewhere.status_code == 404
        for portfolio_id in (pid, mine["id"]):
            assert http.delete(f"/portfolios/{portfolio_id}").status_code == 204
    with server.client({}) as anonymous:
        assert anonymous.get("/portfolios").status_code == 401


def test_the_tier_caps_how_many_portfolios_a_user_owns(
    server: AccountServer, explorer: ApiCredentials
) -> None:
    assert EXPLORER_PORTFOLIOS is not None
    with server.client(explorer.headers) as http:
        ids = [portfolio(http, f"p{i}")["id"] for i in range(EXPLORER_PORTFOLIOS)]
        refused = http.post("/portfolios", json={"name": "one more"})
        assert refused.status_code == 403
        detail = refused.json()["detail"]
        assert f"the explorer tier owns at most {EXPLORER_PORTFOLIOS} portfolios" in detail
        assert "the professional tier owns more" in detail
        assert http.get("/portfolios").json()["total"] == EXPLORER_PORTFOLIOS
        assert http.delete(f"/portfolios/{ids[0]}").status_code == 204
        ids[0] = portfolio(http, "one more")["id"]  # a place freed is a place to take
        for portfolio_id in ids:
            assert http.delete(f"/portfolios/{portfolio_id}").status_code == 204


def test_a_read_only_key_reads_but_cannot_write(server: AccountServer) -> None:
    with server.client() as http:
        key = http.post("/me/keys", json={"name": "portfolio reader"}).json()["key"]
        book = portfolio(http, "Read only")
        buy = record(http, book["id"], trade("buy", "1", 1))
    path = f"/portfolios/{book['id']}"
    with server.client({"X-API-Key": key}) as reader:
        for read in (path, f"{path}/transactions", f"{path}/holdings", "/portfolios"):
            assert reader.get(read).status_code == 200, read
        for answer in (
            reader.post("/portfolios", json={"name": "nope"}),
            reader.patch(path, json={"name": "nope"}),
            reader.post(f"{path}/transactions", json=trade("buy", "1", 2)),
            reader.delete(f"{path}/transactions/{buy['id']}"),
            reader.delete(path),
        ):
            assert answer.status_code == 403
            assert answer.json()["detail"] == "needs scope manage:account"
    with server.client() as http:
        assert http.delete(path).status_code == 204


def test_a_csv_file_imports_every_row_as_text_or_as_a_form(server: AccountServer) -> None:
    with server.client() as http:
        book = portfolio(http, "Imported")
        path = f"/portfolios/{book['id']}/transactions"
        answer = http.post(f"{path}/import", content=CSV, headers=CSV_TYPE)
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"portfolio_id": book["id"], "imported": 3}
        listed = http.get(path).json()["transactions"]
        assert [(t["kind"], t["quantity"], t["fee"]) for t in listed] == [
            ("sell", "0.5", "0.25"),
            ("transfer_in", "10.5", "0"),
            ("buy", "2", "1"),
        ]
        assert listed[1]["note"] == "from, a wallet" and listed[1]["chain"] == "ethereum"
        # The same file again, uploaded as a form: its sale still fits what is held.
        form = http.post(f"{path}/import", files={"file": ("t.csv", CSV, "text/csv")})
        assert form.status_code == 201, form.text
        holdings = http.get(f"/portfolios/{book['id']}/holdings").json()["holdings"]
        assert [h["quantity"] for h in holdings] == ["3", "21"]
        audit = http.get("/me/export").json()["audit_log"]
        imports = [e["detail"] for e in audit if e["action"] == "portfolio.import"]
        assert imports == [{"portfolio_id": book["id"], "rows": 3}] * 2
        assert http.delete(f"/portfolios/{book['id']}").status_code == 204


def test_one_bad_row_among_good_ones_imports_nothing(server: AccountServer) -> None:
    header = "executed_at,kind,asset_id,quantity,price\n"
    good = "2024-01-01T00:00:00Z,buy,btc,1,100\n"
    with server.client() as http:
        book = portfolio(http, "Refused imports")
        path = f"/portfolios/{book['id']}/transactions/import"
        before = state(http, book["id"])

        def refused(text: str, code: int = 422) -> Any:
            answer = http.post(path, content=text.encode(), headers=CSV_TYPE)
            assert answer.status_code == code, answer.text
            return answer.json()["detail"]

        bad = header + good + "2024-01-02T00:00:00Z,sell,btc,-1,100\n" + good
        bad += "2024-01-03T00:00:00,buy,btc,1,\n"
        report = refused(bad)
        assert [(e["loc"], e["msg"]) for e in report] == [
            (["body", 3, "quantity"], "Input should be greater than 0"),
            (["body", 5, "price"], "a buy needs a price"),
            (["body", 5, "executed_at"], "Input should have timezone info"),
        ]
        unknown = refused(header + good + "2024-01-02T00:00:00Z,buy,nope,1,1\n")
        assert [(e["loc"], e["input"]) for e in unknown] == [(["body", 3, "asset_id"], "nope")]
        columns = refused("when,kind,asset_id,quantity\n")
        assert ["body", 1, "when"] in [e["loc"] for e in columns]
        assert ["body", 1, "executed_at"] in [e["loc"] for e in columns]
        oversold = refused(header + good + "2024-01-02T00:00:00Z,sell,btc,1.5,1\n", 409)
        assert oversold.startswith("sell of 1.5 btc at 2024-01-02T00:00:00+00:00 (row 3)")
        assert oversold.endswith("exceed the 1 btc held then: nothing was added")
        too_many = refused(header + good * (MAX_ROWS + 1))
        assert too_many[0]["msg"] == f"more than {MAX_ROWS} rows"
        assert refused("")[0]["msg"].startswith("no header")
        assert refused(header)[0]["msg"] == "no rows after the header"
        assert state(http, book["id"]) == before
        assert http.delete(f"/portfolios/{book['id']}").status_code == 204


def test_portfolios_are_in_the_data_export_and_go_with_the_account(
    server: AccountServer, ops_db_url: str, ops_workdir: Path
) -> None:
    leaving = provision(accounts_settings(ops_workdir, ops_db_url), Role.PROFESSIONAL)
    with server.client(leaving.headers) as http:
        book = portfolio(http, "Leaving")
        buy = record(http, book["id"], trade("buy", "0.000000000000000001", 1))
        (exported,) = http.get("/me/export").json()["portfolios"]
        assert exported == http.get(f"/portfolios/{book['id']}").json() | {
            "transaction_list": [buy]
        }
        gone = http.request("DELETE", "/me", json={"password": leaving.password})
        assert gone.status_code == 204
    # The rows themselves are gone (ON DELETE CASCADE, on both databases).
    engine = create_ops_engine(leaving.settings.ops_db)
    try:
        with engine.connect() as connection:
            owned = select(Portfolio.id).where(Portfolio.user_id == leaving.user_id)
            assert connection.execute(owned).all() == []
            rows = select(PortfolioTransaction.id).where(PortfolioTransaction.id == buy["id"])
            assert connection.execute(rows).all() == []
    finally:
        engine.dispose()


def test_two_concurrent_sales_of_everything_cannot_both_pass(server: AccountServer) -> None:
    """Each write locks its portfolio before replaying: the second sale waits for the first
    and then finds nothing left (409), on both databases."""
    with server.client() as http:
        book = portfolio(http, "Race")
        record(http, book["id"], trade("buy", "1", 1))
    path = f"/portfolios/{book['id']}/transactions"

    def sell(day: int) -> int:
        with server.client() as http:
            return http.post(path, json=trade("sell", "1", day)).status_code

    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(sell, (2, 3)))
        assert codes in ([201, 409], [409, 409])
    with server.client() as http:
        held = http.get(f"/portfolios/{book['id']}/holdings").json()["holdings"]
        assert held[0]["quantity"] == "0"
        assert http.get(path).json()["total"] == 2
        assert http.delete(f"/portfolios/{book['id']}").status_code == 204
