"""Token flows and holders per asset-day from ``silver/transfers`` (the ERC-20 Transfer logs).

**Which logs count.** Silver keeps every log at its place in the chain and, per page read, a
range row ("blocks ``block_number``..``range_to`` were read for this contract at
``fetched_at``"). A log counts unless the node flagged it ``removed`` or a *newer* range row of
the same chain and contract covers its block: a re-read after a reorg brings back what the
canonical chain holds (replacing the rows at the same places), and whatever it did not bring
back was orphaned. Everything below is a function of silver alone, so reruns, replays and
backfills give the same rows.

**Flows** (tokens = raw amount / 10**decimals): ``transfer_count`` (every Transfer log, mints
and burns included), ``transfer_volume``, ``minted`` (from the zero address), ``burned`` (to
it), ``net_flow`` = minted - burned, the day's change of supply.

**Holders** are addresses whose balance, summed exactly (``decimal(38,0)``) over every log up to
the end of the day, is positive; the zero address is never a holder. Balances are carried across
days as running sums over the whole history in silver, recomputed each run (a range run writes
only its days, but reads all of silver/transfers: a day's holders depend on every earlier day).
When the logs start after the contract's deployment the balances before the first block read
are unknown: an address that only sent tokens then counts as no holder, so ``holders`` counts
the addresses that gained on net since the first block read (docs/data-model.md).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from pipelines.ingestion.evm.logs import ZERO_ADDRESS

#: The columns of :func:`token_flows`, besides ``asset_id`` and ``date``.
FLOW_COLUMNS = (
    "transfer_count",
    "transfer_volume",
    "minted",
    "burned",
    "net_flow",
    "holders",
    "flow_sources",
)


def canonical_logs(transfers: DataFrame) -> DataFrame:
    """The log rows that count (see the module docstring)."""
    ranges = transfers.where(F.col("log_index") < 0).select(
        F.col("chain").alias("r_chain"),
        F.col("contract_address").alias("r_contract"),
        F.col("block_number").alias("r_from"),
        F.col("range_to").alias("r_to"),
        F.col("fetched_at").alias("r_fetched_at"),
        F.col("ingest_id").alias("r_ingest_id"),
    )
    logs = transfers.where((F.col("log_index") >= 0) & ~F.coalesce("removed", F.lit(False)))
    newer = (F.col("r_fetched_at") > F.col("fetched_at")) | (
        (F.col("r_fetched_at") == F.col("fetched_at")) & (F.col("r_ingest_id") > F.col("ingest_id"))
    )
    covers = (
        (F.col("r_chain") == F.col("chain"))
        & (F.col("r_contract") == F.col("contract_address"))
        & F.col("block_number").between(F.col("r_from"), F.col("r_to"))
    )
    return logs.join(F.broadcast(ranges), covers & newer, "left_anti")


def _tokens(raw: Column, decimals: Column) -> Column:
    return raw.cast("double") / F.pow(F.lit(10.0), decimals.cast("double"))


def daily_flows(logs: DataFrame) -> DataFrame:
    """Transfer count and volume, minted, burned and net flow per asset-day, in tokens.

    Amounts are summed exactly (``decimal(38,0)``) and scaled to tokens only then: a sum of
    doubles depends on the order rows arrive in, so a range run and day-by-day runs over the
    same logs would differ in the last bits."""
    amount = F.col("amount_raw")
    nothing = F.lit(0).cast(DecimalType(38, 0))
    decimals = F.col("decimals_")
    return (
        logs.groupBy("asset_id", "date")
        .agg(
            F.count(F.lit(1)).alias("transfer_count"),
            F.sum(amount).alias("volume_raw"),
            F.sum(F.when(F.col("from_address") == ZERO_ADDRESS, amount).otherwise(nothing)).alias(
                "minted_raw"
            ),
            F.sum(F.when(F.col("to_address") == ZERO_ADDRESS, amount).otherwise(nothing)).alias(
                "burned_raw"
            ),
            F.max("decimals").alias("decimals_"),
            F.array_sort(F.collect_set("source")).alias("flow_sources"),
        )
        .select(
            "asset_id",
            "date",
            "transfer_count",
            _tokens(F.col("volume_raw"), decimals).alias("transfer_volume"),
            _tokens(F.col("minted_raw"), decimals).alias("minted"),
            _tokens(F.col("burned_raw"), decimals).alias("burned"),
            _tokens(F.col("minted_raw") - F.col("burned_raw"), decimals).alias("net_flow"),
            "flow_sources",
        )
    )


def daily_holders(logs: DataFrame) -> DataFrame:
    """Holders at the end of each asset-day that has logs (see the module docstring)."""
    # Each log is a gain of its receiver and a loss of its sender: both legs come from one pass
    # over the logs (a union of two selects ran the anti-join of canonical_logs once per leg).
    legs = F.array(
        F.struct(F.col("to_address").alias("address"), F.col("amount_raw").alias("delta")),
        F.struct(F.col("from_address").alias("address"), (-F.col("amount_raw")).alias("delta")),
    )
    per_day = (
        logs.select("asset_id", "date", F.inline(legs))
        .where(F.col("address") != ZERO_ADDRESS)
        .groupBy("asset_id", "address", "date")
        .agg(F.sum("delta").alias("delta"))
    )
    history = Window.partitionBy("asset_id", "address").orderBy("date")
    running = history.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    holding = (F.sum("delta").over(running) > 0).cast("long")
    # +1 the day an address starts holding, -1 the day it stops: summed over days, the count.
    changes = (
        per_day.withColumn("holding", holding)
        .withColumn(
            "change", F.col("holding") - F.coalesce(F.lag("holding").over(history), F.lit(0))
        )
        .groupBy("asset_id", "date")
        .agg(F.sum("change").alias("change"))
    )
    days = Window.partitionBy("asset_id").orderBy("date")
    total = F.sum("change").over(days.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return changes.select("asset_id", "date", total.cast("long").alias("holders"))


def token_flows(transfers: DataFrame) -> DataFrame:
    """Flows and holders per asset-day with logs: ``asset_id``, ``date``, :data:`FLOW_COLUMNS`."""
    logs = canonical_logs(transfers)
    flows = daily_flows(logs).join(daily_holders(logs), ["asset_id", "date"], "left")
    return flows.select("asset_id", "date", *FLOW_COLUMNS)
