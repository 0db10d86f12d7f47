"""The stochastic processes the simulated models are built from, vectorised with numpy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def affine_recurrence(factor: FloatArray, shift: FloatArray, initial: float) -> FloatArray:
    """``x[t] = factor[t] * x[t-1] + shift[t]`` with ``x[-1] = initial``, vectorised.

    Closed form per block: ``x = P * (initial + cumsum(shift / P))`` with ``P = cumprod(factor)``.
    A cumulative product over a whole series under- or overflows, so blocks are sized to keep
    ``|log P|`` below about 200 and chained through their last value.
    """
    out = np.empty_like(shift)
    length = len(shift)
    if length == 0:
        return out
    widest = float(np.max(np.abs(np.log(factor))))
    block = int(np.clip(200.0 / max(widest, 1e-12), 1, 1024))
    previous = initial
    for first in range(0, length, block):
        product = np.cumprod(factor[first : first + block])
        out[first : first + block] = product * (
            previous + np.cumsum(shift[first : first + block] / product)
        )
        previous = float(out[min(first + block, length) - 1])
    return out


def ornstein_uhlenbeck(normals: FloatArray, sd: float, half_life_steps: float) -> FloatArray:
    """Ornstein-Uhlenbeck deviations from 0 with stationary ``sd``, driven by ``normals``."""
    persistence = math.exp(-math.log(2.0) / max(half_life_steps, 1e-9))
    scale = sd * math.sqrt(1.0 - persistence * persistence)
    return affine_recurrence(np.full(len(normals), persistence), scale * normals, 0.0)


def poisson_onsets(rng: np.random.Generator, rate_per_step: float, steps: int) -> BoolArray:
    """Steps where a Poisson event starts; drawn per step so extending a span keeps earlier ones."""
    return rng.poisson(rate_per_step, steps) > 0
