"""Price forecasting: an automatically ordered ARIMA family model with prediction intervals,
baselines, and rolling-origin evaluation without look-ahead."""
