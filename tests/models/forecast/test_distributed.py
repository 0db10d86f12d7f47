"""What an executor sends back: an asset's forecast as JSON text and back, unchanged."""

from __future__ import annotations

import datetime as dt

import numpy as np

from models.forecast.batch import AssetForecast
from models.forecast.distributed import decoded, encoded
from models.forecast.forecasters import Forecast
from models.forecast.intervals import LEVELS


def test_a_forecast_survives_the_trip_from_an_executor() -> None:
    mean = np.array([100.0, 101.5, 99.25])
    forecast = Forecast(
        mean,
        {level: mean - level for level in LEVELS},
        {level: mean + level for level in LEVELS},
        {"order": [1, 1, 0], "bic": np.float64(-2.5)},  # numpy scalars from statsmodels
    )
    sent = AssetForecast("arima", 40, dt.date(2026, 5, 1), forecast, {"mase_7d": 1.25})

    received = decoded(encoded(sent))

    assert (received.model, received.days, received.last_day) == ("arima", 40, sent.last_day)
    assert received.metrics == sent.metrics and received.forecast is not None
    np.testing.assert_array_equal(received.forecast.mean, mean)
    for level in LEVELS:
        np.testing.assert_array_equal(received.forecast.lower[level], mean - level)
        np.testing.assert_array_equal(received.forecast.upper[level], mean + level)
    assert received.forecast.params == {"order": [1, 1, 0], "bic": -2.5}


def test_an_asset_without_a_forecast_comes_back_without_one() -> None:
    received = decoded(encoded(AssetForecast("arima", 12, None, None, {})))

    assert received == AssetForecast("arima", 12, None, None, {})
