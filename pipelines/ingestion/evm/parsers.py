"""ERC-20 ``Transfer`` log pages (:mod:`.logs`) -> ``silver/transfers`` records.

Each page gives two kinds of record:

* one **range** record per contract the page was read for (``log_index`` -1, ``block_number``
  the page's first block, ``range_to`` its last): it says "these blocks were read for this
  contract at ``fetched_at``", which is how gold drops the logs of orphaned blocks after a
  re-read (docs/connectors.md);
* one **log** record per ``Transfer`` log: chain, block (number, hash, time), transaction,
  ``logIndex``, contract -> reference asset, from, to, the raw ``uint256`` amount (exact,
  ``decimal(38,0)``), the token's decimals (from the page's ``decimals()`` answers) and the
  node's ``removed`` flag.

Structural refusals (quarantine, with the field named): a log whose topic0 is not ``Transfer``
or that has not exactly three topics (ERC-721 transfers index a fourth), topics or data that are
not 32-byte words, hex quantities that do not parse, a contract that is no reference asset of
the chain, a block without a timestamp, a token without decimals, an amount beyond
``decimal(38,0)`` (2**124 and more).

The parser serves every source that lands this shape: the EVM connector and the simulated
source (the registry lists it for both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    StringType,
    StructField,
    StructType,
)

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.reference import Asset
from pipelines.ingestion.evm.logs import LOGS_ENDPOINT, TRANSFER_TOPIC
from pipelines.ingestion.payloads import Envelope, PayloadParser, Record, text_struct
from pipelines.ingestion.sql_functions import bound_once, register_spark_lower, spark_lower
from pipelines.ingestion.sql_records import (
    EPOCH_SECONDS_RANGE,
    Sql,
    SqlEnvelope,
    SqlRecord,
    element,
    field,
    literal,
    matches,
    when,
)

if TYPE_CHECKING:
    import duckdb

#: ``decimal(38,0)``: exact raw amounts and balances (2**124 > any real supply in base units).
AMOUNT_TYPE = "decimal(38,0)"
#: Raw amounts of 2**124 and more do not fit ``decimal(38,0)`` sums: the first 33 of the 64
#: hex digits must be zero.
_SMALL_AMOUNT = r"^0x0{33}[0-9a-f]{31}\z"
_WORD = r"^0x[0-9a-f]{64}\z"
_ADDRESS_WORD = r"^0x0{24}[0-9a-f]{40}\z"
#: Quantities up to 15 hex digits (2**60): block numbers, log indexes, timestamps, decimals.
#: (The patterns end with ``\z``, the end of the text: Java's ``$`` also matches before a
#: final line terminator, which let ``"0x1a\n"`` pass as a quantity and a hash keep it.)
_QUANTITY = r"^0x[0-9a-f]{1,15}\z"
#: The last second Spark (and silver) can hold, 9999-12-31T23:59:59Z: a later block time would
#: overflow ``timestamp_seconds`` (an error that failed the whole batch).
_MAX_SECONDS = EPOCH_SECONDS_RANGE[1]

_BLOCK_TIME_KIND = "a Unix time in seconds"
_MAX_DECIMALS = 77

_LOG_FIELDS = (
    "address",
    "data",
    "blockNumber",
    "blockHash",
    "blockTimestamp",
    "transactionHash",
    "logIndex",
    "removed",
)
#: One item: a log or a range, in one struct type (see :meth:`TransferLogs.prepare`).
_ITEM = StructType(
    [
        StructField("kind", StringType()),
        *(StructField(name, StringType()) for name in _LOG_FIELDS),
        StructField("topics", ArrayType(StringType())),
        StructField("decimals", StringType()),
        StructField("rangeTo", StringType()),
    ]
)


def contract_key(chain: str, address: str) -> str:
    """How a token contract is looked up: ``<chain>:<lower-case address>``."""
    return f"{chain}:{address.lower()}"


def contract_assets(assets: Sequence[Asset]) -> dict[str, str]:
    """``<chain>:<address>`` -> asset_id of every reference asset with a contract address."""
    return {
        contract_key(a.blockchain_network, a.contract_address): a.asset_id
        for a in assets
        if a.contract_address
    }


class TransferLogs(PayloadParser):
    """Pages of ERC-20 Transfer logs, from the EVM connector or the simulated source."""

    endpoints: tuple[str, ...] = (LOGS_ENDPOINT,)
    shape: str = "eth_getLogs page"
    params: tuple[str, ...] = ("chain",)

    def __init__(self, source: str, assets: Sequence[Asset]) -> None:
        self.source = source
        self.contracts = contract_assets(assets)

    @property
    def payload_type(self) -> DataType:
        log = StructType(
            [
                *(StructField(name, StringType()) for name in _LOG_FIELDS),
                StructField("topics", ArrayType(StringType())),
            ]
        )
        return StructType(
            [
                StructField("fromBlock", StringType()),
                StructField("toBlock", StringType()),
                StructField("addresses", ArrayType(StringType())),
                StructField("logs", ArrayType(log)),
                StructField("blocks", ArrayType(text_struct("number", "hash", "timestamp"))),
                StructField("decimals", ArrayType(text_struct("address", "result"))),
            ]
        )

    def prepare(self, payload: Column) -> Column:
        """The page's ranges and logs as one array of :data:`_ITEM`, each log given its block's
        time and its token's decimals from the page's answers."""
        answers = F.struct(
            _first_by_key(payload["blocks"], "number", "timestamp").alias("times"),
            _first_by_key(payload["decimals"], "address", "result").alias("decimals"),
        )
        return _bound_once(answers, lambda found: self._page_items(payload, found))

    def _page_items(self, payload: Column, found: Column) -> Column:
        def header_time(number: Column) -> Column:
            return F.try_element_at(found["times"], F.lower(number))

        def decimals(address: Column) -> Column:
            return F.try_element_at(found["decimals"], F.lower(address))

        none = F.lit(None).cast(StringType())
        ranges = F.transform(
            F.coalesce(payload["addresses"], F.array().cast(ArrayType(StringType()))),
            lambda address: F.struct(
                F.lit("range").alias("kind"),
                address.alias("address"),
                *(none.alias(name) for name in ("data",)),
                payload["fromBlock"].alias("blockNumber"),
                none.alias("blockHash"),
                header_time(payload["fromBlock"]).alias("blockTimestamp"),
                *(none.alias(name) for name in ("transactionHash", "logIndex", "removed")),
                F.lit(None).cast(ArrayType(StringType())).alias("topics"),
                decimals(address).alias("decimals"),
                payload["toBlock"].alias("rangeTo"),
            ),
        )
        logs = F.transform(
            payload["logs"],
            lambda log: F.struct(
                F.lit("log").alias("kind"),
                *(log[name].alias(name) for name in _LOG_FIELDS[:3]),
                log["blockHash"].alias("blockHash"),
                F.coalesce(log["blockTimestamp"], header_time(log["blockNumber"])).alias(
                    "blockTimestamp"
                ),
                *(log[name].alias(name) for name in _LOG_FIELDS[5:]),
                log["topics"].alias("topics"),
                decimals(log["address"]).alias("decimals"),
                none.alias("rangeTo"),
            ),
        )
        # Null when the page has no ``logs`` array (refused by line_problem).
        return F.concat(ranges.cast(ArrayType(_ITEM)), logs.cast(ArrayType(_ITEM)))

    def line_problem(self, prepared: Column) -> Column | None:
        return F.when(prepared.isNull(), F.lit(reasons.NO_LOGS.text()))

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        chain = record.text("chain", envelope.param("chain"), "params.chain")
        is_log = item["kind"] == F.lit("log")
        contract = record.text("contract_address", F.lower(item["address"]), "address")
        record.lookup(
            "asset_id",
            F.concat_ws(":", chain, contract),
            self.contracts,
            reasons.UNKNOWN_CONTRACT.text(),
        )
        block = _quantity(record, "block_number", item["blockNumber"], "blockNumber")
        record.set("block_number", block)
        seconds = _quantity(record, "_seconds", item["blockTimestamp"], "blockTimestamp")
        record.check(item["blockTimestamp"].isNull(), reasons.NO_BLOCK_TIME.text())
        record.check(seconds > _MAX_SECONDS, _not_a("blockTimestamp", _BLOCK_TIME_KIND))
        block_ts = record.set(
            "block_ts", F.timestamp_seconds(F.when(seconds <= _MAX_SECONDS, seconds))
        )
        record.set("date", F.to_date(block_ts))
        token_decimals = _quantity(record, "_decimals", _low_quantity(item["decimals"]), "decimals")
        record.check(item["decimals"].isNull(), reasons.NO_DECIMALS.text())
        record.check(token_decimals > _MAX_DECIMALS, reasons.NO_DECIMALS.text())
        # Only a readable count is cast (a larger one overflows int: an error under ANSI mode).
        record.set("decimals", F.when(token_decimals <= _MAX_DECIMALS, token_decimals).cast("int"))
        record.set("range_to", F.when(~is_log, _hex_long(item["rangeTo"])))
        record.check(
            ~is_log & (_hex_long(item["rangeTo"]).isNull() | (_hex_long(item["rangeTo"]) < block)),
            reasons.FIELD_NOT_A.text(label="toBlock", kind="a block at or after fromBlock"),
        )
        self._log_columns(record, item, is_log)
        return record

    def _log_columns(self, record: Record, item: Column, is_log: Column) -> None:
        """The columns only a log has (null on a range record), checked only on logs."""
        topics = item["topics"]
        record.check(
            is_log & ((F.size(topics) != 3) | (F.lower(F.get(topics, 0)) != TRANSFER_TOPIC)),
            reasons.NOT_A_TRANSFER_LOG.text(),
        )
        index = _hex_long(item["logIndex"])
        record.check(is_log & index.isNull(), _not_a("logIndex", "a hex quantity"))
        record.set("log_index", F.when(is_log, index).otherwise(F.lit(-1).cast("long")))
        for column, value, label in (
            ("block_hash", item["blockHash"], "blockHash"),
            ("tx_hash", item["transactionHash"], "transactionHash"),
        ):
            valid = F.lower(value).rlike(_WORD)
            record.check(is_log & ~F.coalesce(valid, F.lit(False)), _not_a(label, "a 32-byte hash"))
            record.set(column, F.when(is_log, F.lower(value)))
        for column, position in (("from_address", 1), ("to_address", 2)):
            topic = F.lower(F.get(topics, position))
            valid = F.coalesce(topic.rlike(_ADDRESS_WORD), F.lit(False))
            label = f"topics[{position}]"
            record.check(is_log & ~valid, _not_a(label, "an address word"))
            record.set(column, F.when(is_log, F.concat(F.lit("0x"), F.substring(topic, 27, 40))))
        data = F.lower(item["data"])
        word = F.coalesce(data.rlike(_WORD), F.lit(False))
        record.check(is_log & ~word, _not_a("data", "a 32-byte word"))
        small = F.coalesce(data.rlike(_SMALL_AMOUNT), F.lit(False))
        record.check(
            is_log & word & ~small, reasons.FIELD_BEYOND_LIMIT.text(label="data", limit=2.0**124)
        )
        record.set("amount_raw", F.when(is_log & small, _amount(data)))
        removed = F.coalesce(F.lower(item["removed"]) == F.lit("true"), F.lit(False))
        record.set("removed", F.when(is_log, removed))

    # --- the DuckDB half (pipelines.ingestion.sql_records): the same steps, in SQL ---------

    def register_sql_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        register_spark_lower(con)

    def sql_prepare(self, payload: Sql) -> Sql:
        """:meth:`prepare` in SQL."""
        times = _sql_first_by_key(field(payload, "blocks"), "number", "timestamp")
        decimals = _sql_first_by_key(field(payload, "decimals"), "address", "result")
        answers = f"struct_pack(times := {times}, decimals := {decimals})"
        return bound_once(answers, lambda found: self._sql_page_items(payload, found), "_found")

    def _sql_page_items(self, payload: Sql, found: Sql) -> Sql:
        def header_time(number: Sql) -> Sql:
            return f"({field(found, 'times')})[{spark_lower(number)}]"

        def decimals(address: Sql) -> Sql:
            return f"({field(found, 'decimals')})[{spark_lower(address)}]"

        def item(values: dict[str, Sql]) -> Sql:
            return (
                "struct_pack("
                + ", ".join(
                    f"{name} := CAST({values.get(name, 'NULL')} AS {duck})"
                    for name, duck in _SQL_ITEM
                )
                + ")"
            )

        from_block = field(payload, "fromBlock")
        ranges = (
            f"list_transform(coalesce({field(payload, 'addresses')}, []::VARCHAR[]),"
            " lambda _address: "
            + item(
                {
                    "kind": "'range'",
                    "address": "_address",
                    "blockNumber": from_block,
                    "blockTimestamp": header_time(from_block),
                    "decimals": decimals("_address"),
                    "rangeTo": field(payload, "toBlock"),
                }
            )
            + ")"
        )
        log = "_log"
        logs = (
            f"list_transform({field(payload, 'logs')}, lambda {log}: "
            + item(
                {
                    "kind": "'log'",
                    **{name: field(log, name) for name in _LOG_FIELDS},
                    "blockTimestamp": (
                        f"coalesce({field(log, 'blockTimestamp')},"
                        f" {header_time(field(log, 'blockNumber'))})"
                    ),
                    "topics": field(log, "topics"),
                    "decimals": decimals(field(log, "address")),
                }
            )
            + ")"
        )
        # Null when the page has no ``logs`` array (refused by the line problem), as F.concat.
        return f"({ranges} || {logs})"

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        return when(f"{prepared} IS NULL", literal(reasons.NO_LOGS.text()))

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        chain = record.text("chain", envelope.param("chain"), "params.chain")
        is_log = record.once("evm_kind_is_log", f"({field(item, 'kind')} = 'log')")
        contract = record.text(
            "contract_address",
            record.once("evm_address", spark_lower(field(item, "address"))),
            "address",
        )
        record.lookup(
            "asset_id",
            f"concat_ws(':', {chain}, {contract})",
            self.contracts,
            reasons.UNKNOWN_CONTRACT.text(),
        )
        block = _sql_quantity(record, "block_number", field(item, "blockNumber"), "blockNumber")
        record.set("block_number", block)
        time_text = field(item, "blockTimestamp")
        seconds = _sql_quantity(record, "seconds", time_text, "blockTimestamp")
        record.check(f"({time_text} IS NULL)", reasons.NO_BLOCK_TIME.text())
        record.check(f"({seconds} > {_MAX_SECONDS})", _not_a("blockTimestamp", _BLOCK_TIME_KIND))
        block_ts = record.set(
            "block_ts",
            when(
                f"{seconds} <= {_MAX_SECONDS}",
                f"CAST(make_timestamp({seconds} * 1000000) AS TIMESTAMPTZ)",
            ),
        )
        record.set("date", f"CAST({block_ts} AS DATE)")
        decimals_text = field(item, "decimals")
        token_decimals = _sql_quantity(
            record, "decimals", _sql_low_quantity(decimals_text), "decimals"
        )
        record.check(f"({decimals_text} IS NULL)", reasons.NO_DECIMALS.text())
        record.check(f"({token_decimals} > {_MAX_DECIMALS})", reasons.NO_DECIMALS.text())
        record.set(
            "decimals",
            when(f"{token_decimals} <= {_MAX_DECIMALS}", f"CAST({token_decimals} AS INTEGER)"),
        )
        range_to = record.once("evm_range_to", _sql_hex_long(field(item, "rangeTo")))
        record.set("range_to", when(f"NOT {is_log}", range_to))
        record.check(
            f"(NOT {is_log} AND ({range_to} IS NULL OR {range_to} < {block}))",
            reasons.FIELD_NOT_A.text(label="toBlock", kind="a block at or after fromBlock"),
        )
        self._sql_log_columns(record, item, is_log)
        return record

    def _sql_log_columns(self, record: SqlRecord, item: Sql, is_log: Sql) -> None:
        """:meth:`_log_columns` in SQL."""
        topics = field(item, "topics")
        topic = [record.once(f"evm_topic{n}", spark_lower(element(topics, n))) for n in range(3)]
        record.check(
            f"({is_log} AND (len({topics}) <> 3 OR {topic[0]} <> {literal(TRANSFER_TOPIC)}))",
            reasons.NOT_A_TRANSFER_LOG.text(),
        )
        index = record.once("evm_log_index", _sql_hex_long(field(item, "logIndex")))
        record.check(f"({is_log} AND {index} IS NULL)", _not_a("logIndex", "a hex quantity"))
        record.set("log_index", when(is_log, index, "CAST(-1 AS BIGINT)"))
        for column, name in (("block_hash", "blockHash"), ("tx_hash", "transactionHash")):
            value = record.once(f"evm_{column}", spark_lower(field(item, name)))
            valid = f"coalesce({matches(value, _WORD)}, FALSE)"
            record.check(f"({is_log} AND NOT {valid})", _not_a(name, "a 32-byte hash"))
            record.set(column, when(is_log, value))
        for column, position in (("from_address", 1), ("to_address", 2)):
            valid = f"coalesce({matches(topic[position], _ADDRESS_WORD)}, FALSE)"
            label = f"topics[{position}]"
            record.check(f"({is_log} AND NOT {valid})", _not_a(label, "an address word"))
            record.set(column, when(is_log, f"('0x' || substring({topic[position]}, 27, 40))"))
        data = record.once("evm_data", spark_lower(field(item, "data")))
        word = record.once("evm_data_is_word", f"coalesce({matches(data, _WORD)}, FALSE)")
        record.check(f"({is_log} AND NOT {word})", _not_a("data", "a 32-byte word"))
        small = f"coalesce({matches(data, _SMALL_AMOUNT)}, FALSE)"
        record.check(
            f"({is_log} AND {word} AND NOT {small})",
            reasons.FIELD_BEYOND_LIMIT.text(label="data", limit=2.0**124),
        )
        record.set("amount_raw", when(f"{is_log} AND {small}", _sql_amount(data)))
        removed = f"coalesce({spark_lower(field(item, 'removed'))} = 'true', FALSE)"
        record.set("removed", when(is_log, removed))


def _first_by_key(entries: Column, key: str, value: str) -> Column:
    """``entries`` (an array of structs) as a map from each lower-cased ``key`` to the ``value``
    of the first entry with that key, as the page's first answer is the one used. (A lookup by
    filtering the array for every log was quadratic: 2 s for one simulated day, and a full
    10,000-log page would take minutes.) Entries without a key are left out."""
    keyed = F.filter(entries, lambda entry: entry[key].isNotNull())
    pairs = F.transform(keyed, lambda entry: F.struct(F.lower(entry[key]), entry[value]))
    # Reversed, because a repeated key keeps the last value under the session's LAST_WIN
    # policy (pipelines/lake/spark.py).
    return F.map_from_entries(F.reverse(pairs))


def _bound_once(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` computed once per row. Spark has no ``let``: an
    expression used inside a lambda is evaluated again for every element, so the value is
    bound as the lambda variable of a one-element array's ``transform``."""
    return F.get(F.transform(F.array(value), body), 0)


def _not_a(label: str, kind: str) -> str:
    return reasons.FIELD_NOT_A.text(label=label, kind=kind)


def _hex_long(value: Column) -> Column:
    """A hex quantity of at most 15 digits as a long; null when it is no such quantity."""
    text = F.lower(value)
    return F.when(text.rlike(_QUANTITY), F.conv(F.substring(text, 3, 15), 16, 10).try_cast("long"))


def _low_quantity(value: Column) -> Column:
    """An ``eth_call`` word holding a small number (``decimals()``) as a quantity: its leading
    zeros dropped, so it reads like ``0x12``."""
    text = F.lower(value)
    stripped = F.regexp_replace(text, r"^0x0*", "")
    return F.when(
        text.isNotNull(), F.concat(F.lit("0x"), F.when(stripped == "", "0").otherwise(stripped))
    )


def _quantity(record: Record, column: str, value: Column, label: str) -> Column:
    """A required hex quantity, its problem recorded when present but unreadable."""
    parsed = _hex_long(value)
    record.check(value.isNotNull() & parsed.isNull(), _not_a(label, "a hex quantity"))
    return record.set(column, parsed)


def _amount(data: Column) -> Column:
    """The ``uint256`` of a data word below 2**124, exactly: its high 60 and low 64 bits."""
    high = F.conv(F.substring(data, 36, 15), 16, 10).cast(AMOUNT_TYPE)
    low = F.conv(F.substring(data, 51, 16), 16, 10).cast(AMOUNT_TYPE)
    return (high * F.lit(str(2**64)).cast(AMOUNT_TYPE) + low).cast(AMOUNT_TYPE)


# --- the DuckDB half's helpers -----------------------------------------------------------------

#: :data:`_ITEM` in DuckDB.
_SQL_ITEM = tuple(
    (f.name, "VARCHAR[]" if isinstance(f.dataType, ArrayType) else "VARCHAR") for f in _ITEM
)


def _sql_first_by_key(entries: Sql, key: str, value: str) -> Sql:
    """:func:`_first_by_key` in SQL: DuckDB refuses a map with a repeated key, so the entries
    are sorted by key, then position, and the first of each key kept."""
    keyed = (
        f"list_transform(list_filter({entries}, lambda _e: {field('_e', key)} IS NOT NULL),"
        f" lambda _e, _i: struct_pack(k := {spark_lower(field('_e', key))}, i := _i,"
        f" v := {field('_e', value)}))"
    )

    def firsts(ordered: Sql) -> Sql:
        pairs = f"list_zip({ordered}, list_prepend(NULL, {ordered}))"
        first = "_p[1] IS NOT NULL AND (_p[2] IS NULL OR _p[2].k <> _p[1].k)"
        return (
            f"map_from_entries(list_transform(list_filter({pairs}, lambda _p: {first}),"
            " lambda _p: struct_pack(k := _p[1].k, v := _p[1].v)))"
        )

    return bound_once(f"list_sort({keyed})", firsts, "_sorted")


def _sql_hex_long(value: Sql) -> Sql:
    """:func:`_hex_long` in SQL (the digits read as an integer, exactly)."""
    text = spark_lower(value)
    return when(matches(text, _QUANTITY), f"TRY_CAST({text} AS BIGINT)")


def _sql_low_quantity(value: Sql) -> Sql:
    """:func:`_low_quantity` in SQL."""
    text = spark_lower(value)
    stripped = f"regexp_replace({text}, '^0x0*', '')"
    return when(
        f"{text} IS NOT NULL", f"('0x' || (CASE WHEN {stripped} = '' THEN '0' ELSE {stripped} END))"
    )


def _sql_quantity(record: SqlRecord, column: str, value: Sql, label: str) -> Sql:
    """:func:`_quantity` in SQL (parsed once per record)."""
    parsed = record.once(f"evm_{column}", _sql_hex_long(value))
    record.check(f"({value} IS NOT NULL AND {parsed} IS NULL)", _not_a(label, "a hex quantity"))
    return record.set(column, parsed)


def _sql_amount(data: Sql) -> Sql:
    """:func:`_amount` in SQL: the last 31 hex digits of a data word below 2**124 read as a
    128-bit integer (exact), then as ``decimal(38,0)``."""
    return f"CAST(TRY_CAST('0x' || substring({data}, 36, 31) AS HUGEINT) AS DECIMAL(38, 0))"
