"""ERC-20 ``Transfer`` logs of one asset, consistent with its simulated supply and holders
(docs/simulator.md).

The token was deployed before the span, so its logs start after deployment, as a real reading
does (docs/data-model.md, "holders"): the first day opens with one transfer per first holder
from an issuer address whose balance predates the span (it never counts as a holder), handing
out the first day's supply. Each day then mints and burns exactly the day's change of
``total_supply`` (plus equal gross subscriptions and redemptions), moves tokens between
holders, and creates or empties holder addresses so that the holder count, computed from the
logs alone, follows the simulated ``holders`` -- capped at :data:`MAX_HOLDERS` addresses (the
feed's millions of stablecoin holders would be millions of logs). Balances are exact integers
in the token's base units; only the issuer's goes negative.

Blocks are a 12-second chain anchored at a fixed instant, with deterministic hashes, so the
same day always gets the same block numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.contracts.reference import Asset
from pipelines.ingestion.evm.logs import (
    TRANSFER_TOPIC,
    ZERO_ADDRESS,
    address_topic,
    page_payload,
    quantity,
    word,
)
from pipelines.ingestion.simulated.streams import keyed_rng

#: The most holder addresses a simulated token has (see the module docstring).
MAX_HOLDERS = 200
#: The most plain transfers (besides mints, burns and holder changes) a simulated day logs.
MAX_TRANSFERS = 12
#: The most holders a day adds or removes while following the simulated count.
MAX_HOLDER_CHANGES = 10
BLOCK_SECONDS = 12
_ANCHOR = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
#: Block number at the anchor (about Ethereum's on 2020-01-01).
_ANCHOR_BLOCK = 9_193_266


def token_decimals(asset: Asset) -> int:
    """Stablecoins count in 6 decimals (like USDC), other tokens in 18."""
    return 6 if asset.asset_class == "stablecoin" else 18


def first_block(instant: dt.datetime) -> int:
    """The first block at or after ``instant``."""
    seconds = (instant - _ANCHOR).total_seconds()
    return _ANCHOR_BLOCK + int(-(-seconds // BLOCK_SECONDS))


def block_time(number: int) -> int:
    """Unix seconds of block ``number``."""
    return int(_ANCHOR.timestamp()) + (number - _ANCHOR_BLOCK) * BLOCK_SECONDS


def _hash(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


@dataclass
class _Ledger:
    """The token's balances and the logs of the day being simulated."""

    asset: Asset
    seed: int
    rng: np.random.Generator
    balances: dict[str, int] = field(default_factory=dict)
    created: int = 0
    moves: list[tuple[str, str, int]] = field(default_factory=list)
    _holders: list[str] | None = None

    def new_address(self) -> str:
        self.created += 1
        return "0x" + _hash(self.seed, self.asset.asset_id, "holder", self.created)[2:42]

    def holders(self) -> list[str]:
        """The addresses holding tokens, sorted (shared: callers must not change it)."""
        if self._holders is None:
            self._holders = sorted(a for a, balance in self.balances.items() if balance > 0)
        return self._holders

    def move(self, sender: str, receiver: str, amount: int) -> None:
        if amount <= 0 or sender == receiver:
            return
        if sender != ZERO_ADDRESS:
            self._add(sender, -amount)
        if receiver != ZERO_ADDRESS:
            self._add(receiver, amount)
        self.moves.append((sender, receiver, amount))

    def _add(self, address: str, amount: int) -> None:
        before = self.balances.get(address, 0)
        self.balances[address] = before + amount
        # Most moves are partial transfers between holders: the sorted holders, made again
        # only when an address starts or stops holding, are read once per move.
        if (before > 0) != (before + amount > 0):
            self._holders = None

    def pick(self, addresses: list[str]) -> str:
        return addresses[int(self.rng.integers(len(addresses)))]

    def mint(self, amount: int, target: int) -> None:
        holders = self.holders()
        fresh = not holders or len(holders) < target
        self.move(ZERO_ADDRESS, self.new_address() if fresh else self.pick(holders), amount)

    def burn(self, amount: int) -> None:
        """Burn ``amount`` from the largest holders, each at most its balance."""
        for holder in sorted(self.holders(), key=lambda a: (-self.balances[a], a)):
            if amount <= 0:
                return
            part = min(amount, self.balances[holder])
            self.move(holder, ZERO_ADDRESS, part)
            amount -= part

    def follow(self, target: int) -> None:
        """Add or empty holder addresses towards ``target`` (a few a day)."""
        for _ in range(MAX_HOLDER_CHANGES):
            holders = self.holders()
            if len(holders) < target:
                sender = self.pick(holders)
                share = self.rng.uniform(0.1, 0.5)
                self.move(sender, self.new_address(), int(self.balances[sender] * share))
            elif len(holders) > max(target, 1):
                smallest = min(holders, key=lambda a: (self.balances[a], a))
                others = [a for a in holders if a != smallest]
                self.move(smallest, self.pick(others), self.balances[smallest])
            else:
                return

    def shuffle(self, count: int) -> None:
        """``count`` partial transfers between holders (the holder count does not change)."""
        for _ in range(count):
            holders = self.holders()
            if len(holders) < 2:
                return
            # The receiver is drawn from the holders but the sender (without copying them).
            at = int(self.rng.integers(len(holders)))
            other = int(self.rng.integers(len(holders) - 1))
            sender, receiver = holders[at], holders[other + (other >= at)]
            share = self.rng.uniform(0.01, 0.3)
            self.move(sender, receiver, int(self.balances[sender] * share))


@dataclass(frozen=True, slots=True)
class TokenDays:
    """The simulated metrics the logs follow, per day of the span (oldest first)."""

    days: list[dt.date]
    supply: list[float]
    holders: list[int]
    transfers: list[int]


def transfer_pages(
    asset: Asset, seed: int, metrics: TokenDays
) -> Iterator[tuple[dt.date, dict[str, Any]]]:
    """One page payload per day of the span, day by day (the ledger carries over from a day to
    the next, so a day's page is made after the earlier days'; only the current one is held)."""
    assert asset.contract_address is not None
    unit = 10 ** token_decimals(asset)
    raw = [round(s * unit) for s in metrics.supply]
    targets = [max(1, min(h, MAX_HOLDERS)) for h in metrics.holders]
    ledger = _Ledger(asset, seed, keyed_rng(seed, asset.asset_id, "transfers"))
    weights = ledger.rng.lognormal(0.0, 1.0, targets[0])
    shares = [int(raw[0] * w / weights.sum()) for w in weights]
    shares[0] += raw[0] - sum(shares)
    issuer = ledger.new_address()
    for share in shares:
        ledger.move(issuer, ledger.new_address(), share)
    for index, day in enumerate(metrics.days):
        previous = raw[index - 1] if index else raw[0]
        change = raw[index] - previous
        churn = int(previous * ledger.rng.uniform(0.0, 0.001))
        if max(change, 0) + churn:
            ledger.mint(max(change, 0) + churn, targets[index])
        if max(-change, 0) + churn:
            ledger.burn(max(-change, 0) + churn)
        ledger.follow(targets[index])
        ledger.shuffle(min(metrics.transfers[index], MAX_TRANSFERS))
        yield day, _page(ledger, day)


class PageCursor:
    """One token's pages of :func:`transfer_pages`, made as the days are asked for: the page of
    the day asked last is held, a later day advances, an earlier day starts again from the
    first (the same pages: the ledger is seeded). The source asks day after day, so each page
    is made once and one is held at a time."""

    def __init__(self, start: Callable[[], Iterator[tuple[dt.date, dict[str, Any]]]]) -> None:
        self._start = start
        self._pages: Iterator[tuple[dt.date, dict[str, Any]]] | None = None
        self._day: dt.date | None = None
        self._page: dict[str, Any] | None = None

    def page(self, day: dt.date) -> dict[str, Any] | None:
        """The page of ``day``; None when the span has no such day."""
        if self._pages is None or (self._day is not None and day < self._day):
            self._pages, self._day, self._page = self._start(), None, None
        while self._day is None or self._day < day:
            found = next(self._pages, None)
            if found is None:
                self._pages, self._day, self._page = None, None, None
                return None
            self._day, self._page = found
        return self._page if self._day == day else None


def _page(ledger: _Ledger, day: dt.date) -> dict[str, Any]:
    """The day's moves as a page of logs, spread over the day's blocks in order."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    first, last = first_block(start), first_block(start + dt.timedelta(days=1)) - 1
    asset, chain = ledger.asset, ledger.asset.blockchain_network
    contract = (ledger.asset.contract_address or "").lower()
    moves, ledger.moves = ledger.moves, []
    offsets = sorted(int(x) for x in ledger.rng.integers(0, last - first + 1, len(moves)))
    logs: list[dict[str, Any]] = []
    for position, ((sender, receiver, amount), offset) in enumerate(
        zip(moves, offsets, strict=True)
    ):
        number = first + offset
        index = sum(1 for log in logs if log["blockNumber"] == quantity(number))
        logs.append(
            {
                "address": contract,
                "topics": [TRANSFER_TOPIC, address_topic(sender), address_topic(receiver)],
                "data": word(amount),
                "blockNumber": quantity(number),
                "blockHash": _hash(ledger.seed, chain, number),
                "transactionHash": _hash(ledger.seed, asset.asset_id, day, position),
                "transactionIndex": quantity(index),
                "logIndex": quantity(index),
                "removed": False,
            }
        )
    numbers = sorted({first, last, *(int(log["blockNumber"], 16) for log in logs)})
    blocks = [
        {
            "number": quantity(n),
            "hash": _hash(ledger.seed, chain, n),
            "parentHash": _hash(ledger.seed, chain, n - 1),
            "timestamp": quantity(block_time(n)),
        }
        for n in numbers
    ]
    decimals = [{"address": contract, "result": word(token_decimals(asset))}]
    return page_payload(first, last, [contract], logs, blocks, decimals)
