"""One-line lake access (`pipelines.lake.access`) on a small lake, local and on S3 (moto's real
S3 protocol server): filters pushed down to the files, time travel, the table listing, SQL,
bronze envelopes, and every error naming what exists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from pipelines.contracts.envelope import RawEnvelope, partition_prefix
from pipelines.core.settings import Settings
from pipelines.lake import errors
from pipelines.lake.access import Lake, open_lake
from pipelines.lake.objects import open_object_store
from tests.fixtures.lake import lake_settings
from tests.fixtures.s3 import S3Server
from tests.fixtures.sample_data import DAY, HOUR, T0, bars

#: Hourly bars per asset written in version 0 (three days), and the fourth day of OUSG that
#: version 1 appends.
HOURS = 72


def _with_date(table: pa.Table) -> pa.Table:
    return table.append_column("date", pc.cast(table["ts"], pa.date32()))


def _build(settings: Settings) -> None:
    """gold/ohlcv_1h (date partitions, two versions), gold/ohlcv_1d (one file per asset) and
    two bronze objects of silver's price dataset, fetched on two days."""
    options = settings.lake.delta_storage_options()
    hourly = settings.lake.uri("gold", "ohlcv_1h")
    first = pa.concat_tables([bars("ousg", "1h", HOURS), bars("btc", "1h", HOURS, base=42e3)])
    write_deltalake(hourly, _with_date(first), partition_by=["date"], storage_options=options)
    later = bars("ousg", "1h", 24, start=T0 + HOURS * HOUR, base=500.0)
    write_deltalake(hourly, _with_date(later), mode="append", storage_options=options)
    daily = settings.lake.uri("gold", "ohlcv_1d")
    for asset in ("ousg", "btc"):
        rows = _with_date(bars(asset, "1d", 5, step=DAY))
        write_deltalake(daily, rows, mode="append", storage_options=options)
    store = open_object_store(settings.lake)
    for day in (0, 1):
        fetched = T0 + day * DAY
        lines = [
            RawEnvelope.wrap(
                source="simulated",
                dataset="prices",
                endpoint="/bars",
                params={"asset": asset},
                fetched_at=fetched,
                payload={"close": day},
            ).to_json_line()
            for asset in ("ousg", "btc")
        ]
        key = f"{partition_prefix('simulated', 'prices', fetched.date().isoformat())}/p.jsonl"
        store.put_if_absent(key, "\n".join(lines).encode())


@pytest.fixture(scope="module", params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("access")
    overrides: dict[str, str] = {}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        overrides = server.settings_overrides(server.create_bucket())
    settings = lake_settings(root, **overrides)
    _build(settings)
    return open_lake(settings=settings)


def test_read_pushes_asset_window_and_columns_down(lake: Lake) -> None:
    bars_ = lake.read(
        "gold/ohlcv_1h",
        asset="btc",
        start=T0 + HOUR,
        end=dt.date(2024, 1, 2),
        columns=["ts", "close"],
    )
    assert list(bars_.columns) == ["ts", "close"]
    assert len(bars_) == 23  # 01:00 .. 23:00 of the first day: the end is exclusive
    assert bars_["ts"].min() == T0 + HOUR
    assert bars_["close"].iloc[0] == 42_000 + 1 + 0.25

    day = lake.scan("gold/ohlcv_1h", start="2024-01-02", end="2024-01-03")
    every = lake.scan("gold/ohlcv_1h")
    # The window opens one date partition of four: the other files are never read.
    assert len(every.files) == 4
    assert len(day.files) == 1 and "date=2024-01-02" in day.files[0]
    assert day.to_arrow().num_rows == 48

    # gold/ohlcv_1d is not partitioned: its per-file statistics skip the other asset's file.
    assert len(lake.scan("gold/ohlcv_1d").files) == 2
    assert len(lake.scan("gold/ohlcv_1d", asset="btc").files) == 1
    assert lake.read_arrow("gold/ohlcv_1d", asset=["btc", "ousg"]).num_rows == 10


def test_time_travel_reads_an_older_version(lake: Lake) -> None:
    assert lake.read_arrow("gold/ohlcv_1h").num_rows == 2 * HOURS + 24
    old = lake.read_arrow("gold/ohlcv_1h", as_of=0)
    assert old.num_rows == 2 * HOURS
    assert pc.max(old["ts"]).as_py() == T0 + (HOURS - 1) * HOUR
    history = lake.history("gold/ohlcv_1h")
    assert [c.version for c in history] == [1, 0]
    at_first_commit = lake.read_arrow("gold/ohlcv_1h", as_of=history[-1].timestamp)
    assert at_first_commit.num_rows == 2 * HOURS
    with pytest.raises(errors.VersionNotFoundError, match=r"versions 0\.\.1"):
        lake.read("gold/ohlcv_1h", as_of=7)
    with pytest.raises(errors.VersionNotFoundError, match="first commit"):
        lake.read("gold/ohlcv_1h", as_of="2001-01-01")


def test_tables_list_schemas_and_row_counts(lake: Lake) -> None:
    tables = {info.name: info for info in lake.tables()}
    assert set(tables) == {"bronze/prices", "gold/ohlcv_1h", "gold/ohlcv_1d"}
    hourly = tables["gold/ohlcv_1h"]
    assert (hourly.rows, hourly.files, hourly.version) == (2 * HOURS + 24, 4, 1)
    assert hourly.partition_by == ("date",)
    assert hourly.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert tables["bronze/prices"].files == 2
    assert [t.name for t in lake.tables("gold")] == ["gold/ohlcv_1h", "gold/ohlcv_1d"]


def test_sql_over_lake_tables(lake: Lake) -> None:
    answer = lake.sql(
        "SELECT h.asset_id, count(*) AS bars, max(d.close) AS top FROM gold.ohlcv_1h h "
        "JOIN gold.ohlcv_1d d USING (asset_id) WHERE h.date = DATE '2024-01-01' "
        "GROUP BY 1 ORDER BY 1"
    )
    assert answer.to_dict("list") == {
        "asset_id": ["btc", "ousg"],
        "bars": [24 * 5, 24 * 5],
        "top": [104.25, 104.25],
    }
    # DuckDB hands its filter and projection to the Arrow dataset scan (partition pruning).
    plan = lake.sql_arrow(
        "EXPLAIN SELECT close FROM gold.ohlcv_1h WHERE date = DATE '2024-01-02'"
    ).column(1)[0]
    assert "PYTHON_ARROW_SCAN" in str(plan) and '"date" = DATE' in str(plan)
    assert "Projections: close" in str(plan)
    with pytest.raises(errors.UnknownTableError, match=r"gold\.ohlcv_1h"):
        lake.sql("SELECT * FROM gold.ohlcv_1hh")


def test_bronze_envelopes_by_fetch_day_and_source(lake: Lake) -> None:
    scan = lake.scan("bronze/prices", start="2024-01-02", where={"source": "simulated"})
    assert len(scan.files) == 1 and "date=2024-01-02" in scan.files[0]
    rows = scan.to_pandas()
    assert rows["line"].tolist() == [1, 2]
    assert rows["payload"].tolist() == ['{"close": 1}'] * 2
    assert lake.read_arrow("bronze/prices", where={"source": "other"}).num_rows == 0


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    settings = lake_settings(tmp_path_factory.mktemp("access-errors"))
    _build(settings)
    return open_lake(Path(settings.lake.root))


def test_errors_name_what_exists(local_lake: Lake) -> None:
    with pytest.raises(errors.UnknownTableError, match="did you mean 'gold/ohlcv_1h'") as table:
        local_lake.read("gold/ohlcv_1hr")
    assert "gold/ohlcv_1h" in table.value.suggestions
    with pytest.raises(errors.UnknownColumnError, match="did you mean 'close'"):
        local_lake.read("gold/ohlcv_1h", columns=["ts", "clsoe"])
    with pytest.raises(errors.UnknownColumnError, match="'venue'"):
        local_lake.read("gold/ohlcv_1h", where={"venue": "x"})
    with pytest.raises(errors.UnknownAssetError, match="did you mean 'btc'"):
        local_lake.read("gold/ohlcv_1h", asset="btcc")
    # A known asset with no rows in the window is an empty answer, not an error.
    assert local_lake.read("gold/ohlcv_1h", asset="usdc").empty
    with pytest.raises(errors.TableNotBuiltError, match="gold/predictions"):
        local_lake.read("gold/predictions")
    with pytest.raises(errors.UnsupportedFilterError, match="no asset_id"):
        local_lake.read("bronze/prices", asset="btc")
    with pytest.raises(errors.UnsupportedFilterError, match="no versions"):
        local_lake.read("bronze/prices", as_of=0)
    with pytest.raises(errors.UnsupportedFilterError, match="not an ISO"):
        local_lake.read("gold/ohlcv_1h", start="yesterday")
    with pytest.raises(errors.VersionNotFoundError):
        local_lake.read("gold/ohlcv_1h", as_of=True)
    with pytest.raises(errors.UnknownTableError, match="bronze, silver, gold"):
        local_lake.tables("platinum")


def test_filters_read_files_that_delta_rs_merge_rewrote(tmp_path: Path) -> None:
    """delta-rs' MERGE writes text columns as string_view, which Arrow cannot compare with
    the table's string type: the filtered read and lineage's look-up still answer."""
    from deltalake import DeltaTable

    from pipelines.lineage.layers import is_

    settings = lake_settings(tmp_path)
    uri = settings.lake.uri("silver", "prices")
    write_deltalake(uri, bars("btc", "1h", 3), storage_options={})
    changed = pa.concat_tables([bars("btc", "1h", 1, base=7.0), bars("ousg", "1h", 2)])
    (
        DeltaTable(uri)
        .merge(changed, "t.asset_id = s.asset_id AND t.ts = s.ts", "s", "t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    lake = open_lake(settings=settings)
    btc = lake.read("silver/prices", asset="btc", columns=["ts", "close"])
    assert len(btc) == 3 and btc.sort_values("ts")["close"].iloc[0] == 7.25  # the merged close
    assert len(lake.read("silver/prices", where={"asset_id": ["btc", "ousg"]})) == 5
    rows = DeltaTable(uri).to_pyarrow_dataset().to_table(filter=is_("asset_id", "ousg"))
    assert rows.num_rows == 2
