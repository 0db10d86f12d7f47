"""Forecasting, sentiment and risk-scoring models (issue 6); empty until then."""
