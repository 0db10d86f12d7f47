"""Response schemas of the signals (``/signals``, ``/assets/{asset_id}/signals``): each asset's
forecast, sentiment and risk signals as the pipeline last computed them, with their backtests.

:class:`SignalOut` mirrors ``signals`` (:data:`pipelines.contracts.served.SIGNALS`) column for
column (``tests/api/test_schemas_mirror_served_tables.py``), its ``inputs`` unpacked from JSON.
The rules and the performance figures are defined once, in ``models/forecast/backtest.py``
(docs/forecasting.md, "Signals"). Read-only: nothing here places orders.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal, Self

from pydantic import Field

from api.schemas import Number, UtcDatetime, _Out

SignalName = Literal["forecast", "sentiment", "risk"]
#: The orders the signal list accepts; "-" for descending.
SignalSort = Literal["asset_id", "strength", "-strength", "total_return", "-total_return"]
_HOLD = "Buy-and-hold's figure over the same days."


class SignalOut(_Out):
    """One signal of one asset as of a day, and its backtest beside buy-and-hold."""

    asset_id: str
    signal: SignalName
    generated_at: UtcDatetime = Field(description="End of the day whose close decided it.")
    as_of: dt.date = Field(description="The day whose close decided it.")
    direction: int = Field(ge=-1, le=1, description="1 long, 0 flat, -1 short (no order placed).")
    strength: Number = Field(ge=0, le=1, description="How decided the reading is, 0 to 1.")
    inputs: dict[str, Number | str | None] = Field(
        description="The values the signal was decided from, and `date`, the day they are of."
    )
    rule: str = Field(description="The signal's rule in words.")
    window_start: dt.date = Field(description="First day of the backtest (a position taken).")
    window_end: dt.date = Field(description="Last day of the backtest.")
    days: int = Field(ge=1, description="Daily returns in the backtest.")
    total_return: Number = Field(description="Compounded return of the signal's positions.")
    sharpe: Number = Field(description="Annualised (365 days) Sharpe ratio.")
    sortino: Number = Field(description="Annualised (365 days) Sortino ratio.")
    max_drawdown: Number = Field(ge=0, le=1, description="Deepest fall from a previous peak.")
    hit_rate: Number | None = Field(
        default=None, ge=0, le=1, description="Share of days held that gained; null: never held."
    )
    exposure: Number = Field(ge=0, le=1, description="Share of days with a position.")
    hold_total_return: Number = Field(description=_HOLD)
    hold_sharpe: Number = Field(description=_HOLD)
    hold_sortino: Number = Field(description=_HOLD)
    hold_max_drawdown: Number = Field(ge=0, le=1, description=_HOLD)
    hold_hit_rate: Number = Field(ge=0, le=1, description=_HOLD)

    @classmethod
    def from_row(cls, row: dict[str, object]) -> Self:
        """A store row, its ``inputs`` JSON unpacked."""
        return cls.model_validate(row | {"inputs": json.loads(str(row["inputs"]))})


class AssetSignalsResponse(_Out):
    asset_id: str
    signals: list[SignalOut] = Field(
        description="The newest reading of each signal (none before `rwa signals` has run)."
    )


class SignalPage(_Out):
    total: int = Field(description="Signals matching the filters, before paging.")
    limit: int
    offset: int
    signals: list[SignalOut]
