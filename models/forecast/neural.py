"""Neural and combined forecasters.

:class:`LstmForecaster` -- an LSTM (torch, CPU) reads the last ``window`` days of features --
the daily log return, its 7-day rolling volatility, and any exogenous gold features the caller
supplies (on-chain, sentiment, macro), each standardised on the training data -- and predicts
the *cumulative* log return 1..horizon days ahead at five quantiles (2.5%, 10%, 50%, 90%,
97.5%) with the pinball loss: the 80% and 95% intervals come straight from the quantiles
(:func:`~models.forecast.intervals.quantile_intervals`), the point forecast is the median.
Training is seeded, so a fit is reproducible.

:class:`EnsembleForecaster` -- the mean of its members in log space, for the point forecast and
for each interval bound (quantile averaging,
:func:`~models.forecast.intervals.averaged_intervals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.forecast.forecasters import Forecast, Forecaster, flat_forecast, is_constant
from models.forecast.intervals import (
    MEDIAN_COLUMN,
    QUANTILES,
    averaged_intervals,
    log_mean,
    quantile_intervals,
)


class LstmForecaster(Forecaster):
    name = "lstm"

    def __init__(
        self,
        window: int = 30,
        hidden: int = 32,
        epochs: int = 60,
        learning_rate: float = 0.01,
        seed: int = 0,
        exogenous: np.ndarray | None = None,
    ) -> None:
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.seed = seed
        #: (n_days, k) extra features aligned with the history given to :meth:`forecast`.
        self.exogenous = exogenous

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        if is_constant(history):
            return flat_forecast(history, horizon)
        features = self._features(history)
        inputs, targets = self._windows(np.log(history), features, horizon)
        if len(inputs) < 8:
            raise ValueError(
                f"{history.size} days give {len(inputs)} training windows of {self.window} "
                f"days for a {horizon}-day horizon; need at least 8"
            )
        # Targets in units of their own spread: a NAV token moves 1e-4 a day, a crypto 1e-2,
        # and the network should not have to learn either scale from its initial weights.
        scale = float(targets.std()) or 1.0
        model = self._train(inputs, targets / scale, features.shape[1], horizon)
        quantiles = scale * self._predict(model, features[-self.window :])  # (horizon, 5)
        quantiles = np.sort(quantiles, axis=1)  # no crossing
        last = float(history[-1])
        mean = last * np.exp(quantiles[:, MEDIAN_COLUMN])
        lower, upper = quantile_intervals(last, quantiles)
        params = {
            "model": "lstm",
            "window": self.window,
            "hidden": self.hidden,
            "epochs": self.epochs,
            "features": int(features.shape[1]),
        }
        return Forecast(mean, lower, upper, params)

    def _features(self, history: np.ndarray) -> np.ndarray:
        returns = np.concatenate([[0.0], np.diff(np.log(history))])
        vol = np.array([returns[max(0, i - 6) : i + 1].std() for i in range(returns.size)])
        columns = [returns, vol]
        if self.exogenous is not None:
            exogenous = np.asarray(self.exogenous, dtype=float)[: history.size]
            if exogenous.shape[0] != history.size:
                raise ValueError("exogenous features must have one row per history day")
            columns += [np.nan_to_num(exogenous[:, j]) for j in range(exogenous.shape[1])]
        matrix = np.column_stack(columns)
        scale = matrix.std(axis=0)
        standardised: np.ndarray = (matrix - matrix.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
        return standardised

    def _windows(
        self, logs: np.ndarray, features: np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs, targets = [], []
        for end in range(self.window, logs.size - horizon + 1):
            inputs.append(features[end - self.window : end])
            targets.append(logs[end : end + horizon] - logs[end - 1])
        return np.array(inputs), np.array(targets)

    def _train(self, inputs: np.ndarray, targets: np.ndarray, k: int, horizon: int) -> Any:
        import torch

        torch.manual_seed(self.seed)
        model = _QuantileLstm(k, self.hidden, horizon)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        x = torch.tensor(inputs, dtype=torch.float32)
        y = torch.tensor(targets, dtype=torch.float32)
        levels = torch.tensor(QUANTILES, dtype=torch.float32)
        for _ in range(self.epochs):
            optimiser.zero_grad()
            error = y.unsqueeze(-1) - model(x)  # (batch, horizon, quantiles)
            loss = torch.maximum(levels * error, (levels - 1) * error).mean()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        return model.eval()

    @staticmethod
    def _predict(model: Any, window: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = model(torch.tensor(window[None], dtype=torch.float32))
        return np.asarray(out[0].numpy(), dtype=float)


def _QuantileLstm(k: int, hidden: int, horizon: int) -> Any:  # noqa: N802 - a module factory
    import torch
    from torch import nn

    class QuantileLstm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(k, hidden, batch_first=True)
            self.head = nn.Linear(hidden, horizon * len(QUANTILES))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, (state, _) = self.lstm(x)
            out: torch.Tensor = self.head(state[-1]).view(-1, horizon, len(QUANTILES))
            return out

    return QuantileLstm()


class EnsembleForecaster(Forecaster):
    name = "ensemble"

    def __init__(self, members: Sequence[Forecaster]) -> None:
        if not members:
            raise ValueError("an ensemble needs members")
        self.members = list(members)

    def frozen(self, history: np.ndarray) -> Forecaster:
        return EnsembleForecaster([member.frozen(history) for member in self.members])

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        results = [member.forecast(history, horizon) for member in self.members]
        lower, upper = averaged_intervals([r.lower for r in results], [r.upper for r in results])
        return Forecast(
            log_mean([r.mean for r in results]),
            lower,
            upper,
            {"model": "ensemble", "members": [r.params for r in results]},
        )
