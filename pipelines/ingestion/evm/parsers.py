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

#: ``decimal(38,0)``: exact raw amounts and balances (2**124 > any real supply in base units).
AMOUNT_TYPE = "decimal(38,0)"
#: Raw amounts of 2**124 and more do not fit ``decimal(38,0)`` sums: the first 33 of the 64
#: hex digits must be zero.
_SMALL_AMOUNT = r"^0x0{33}[0-9a-f]{31}$"
_WORD = r"^0x[0-9a-f]{64}$"
_ADDRESS_WORD = r"^0x0{24}[0-9a-f]{40}$"
#: Quantities up to 15 hex digits (2**60): block numbers, log indexes, timestamps, decimals.
_QUANTITY = r"^0x[0-9a-f]{1,15}$"

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
        block_ts = record.set("block_ts", F.timestamp_seconds(seconds))
        record.set("date", F.to_date(block_ts))
        token_decimals = _quantity(record, "_decimals", _low_quantity(item["decimals"]), "decimals")
        record.check(item["decimals"].isNull(), reasons.NO_DECIMALS.text())
        record.check(token_decimals > 77, reasons.NO_DECIMALS.text())
        record.set("decimals", token_decimals.cast("int"))
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
