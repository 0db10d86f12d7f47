"""What the assets return: materialization results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    Materialization = dg.MaterializeResult[None]
else:
    # Dagster inspects return annotations at run time and only knows the bare class.
    Materialization = dg.MaterializeResult
