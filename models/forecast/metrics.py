"""Forecast accuracy and interval metrics (the M4 competition's definitions).

MASE scales the forecast's mean absolute error by the in-sample mean absolute error of the
seasonal naive forecast (``season`` steps back; 1 = the random walk, the natural baseline for
daily prices), so a value below 1 beats the naive forecast.
"""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0-200); terms with both values 0 count as 0."""
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.divide(
        2.0 * np.abs(forecast - actual),
        denominator,
        out=np.zeros_like(denominator, dtype=float),
        where=denominator > 0,
    )
    return float(100.0 * np.mean(terms))


def naive_scale(history: np.ndarray, season: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast: the MASE denominator."""
    if history.size <= season:
        raise ValueError(f"MASE needs more than {season} past values, got {history.size}")
    return float(np.mean(np.abs(history[season:] - history[:-season])))


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int = 1) -> float:
    scale = naive_scale(history, season)
    if scale == 0:
        return 0.0 if mae(actual, forecast) == 0 else float("inf")
    return mae(actual, forecast) / scale


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside their interval (bounds included)."""
    return float(np.mean((actual >= lower) & (actual <= upper)))
