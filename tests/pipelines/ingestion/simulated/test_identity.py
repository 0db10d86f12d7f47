"""The simulated source's output, pinned by digest.

The digests were computed on the single-module simulator (``pipelines/ingestion/simulated.py``
before it became a package of small modules), so they prove that the refactoring kept every
envelope byte-identical for the same seed. A deliberate change to the simulation changes them:
recompute with ``python -m tests.pipelines.ingestion.simulated.test_identity``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from pipelines.contracts.envelope import Dataset
from pipelines.contracts.reference import Asset
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.reference import load_assets

START = dt.datetime(2024, 6, 28, tzinfo=dt.UTC)


def _digest(
    *,
    days: int,
    frequency: str = "1h",
    fault_rate: float = 0.0,
    seed: int = 42,
    datasets: Sequence[Dataset] = ("prices", "onchain", "economic", "news"),
    assets: Sequence[Asset] | None = None,
) -> str:
    chosen = load_assets() if assets is None else assets
    sim = SimulatedSource(
        chosen,
        seed=seed,
        start=START,
        end=START + dt.timedelta(days=days),
        frequency=frequency,  # type: ignore[arg-type]
        fault_rate=fault_rate,
        datasets=datasets,
    )
    text = "\n".join(envelope.to_json_line() for envelope in sim.collect(sim.window))
    events = "\n".join(repr(sim.events(asset.asset_id)) for asset in chosen)
    return hashlib.sha256(f"{text}\n{events}".encode()).hexdigest()


def scenarios() -> dict[str, str]:
    """Scenario name -> digest of every envelope and every ground-truth event it produces."""
    return {
        # The first day of every dataset over the packaged catalogue, with injected faults.
        "first_day": _digest(days=1, fault_rate=0.02),
        # Sub-hourly bars across the 4th of July (a bond-market holiday).
        "holiday_15m": _digest(days=8, frequency="15m", fault_rate=0.005, seed=7),
        # Long enough for jumps, de-pegs, markdowns and re-pricings to happen.
        "quarter_prices": _digest(days=120, datasets=("prices",), seed=3),
        # Long enough for CPI releases and FOMC steps.
        "macro_half_year": _digest(days=200, datasets=("economic",), seed=11),
        "news_month": _digest(days=30, datasets=("news", "onchain"), seed=5),
    }


PINNED = {
    "first_day": "dae2f3c7f619f6a7101800cbece6f8119963d5e69cb90f3d922935dfc80a4c10",
    "holiday_15m": "289d8117119b94e7cd84076a6564982b243b0223d5e2c64107d6ad981e88ba4d",
    "quarter_prices": "263047988a63117550653a18351a128ab9ff469619a4a50e69676c47447185fd",
    "macro_half_year": "d514553502202cc56f2c03154bcfc80435360dc5e2a7e4d3e0705b5477022939",
    "news_month": "5f1eb3e9815384d1fa6863a3450a05caf14bccc90ae27b4d0ece042e8dd0f192",
}


def test_the_simulation_is_byte_identical_to_the_pinned_digests() -> None:
    assert scenarios() == PINNED


if __name__ == "__main__":
    for name, digest in scenarios().items():
        print(f'    "{name}": "{digest}",')
