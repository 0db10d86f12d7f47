"""Forecasting, sentiment and risk-scoring models (issue 6), and the registry of their
versioned artefacts (:mod:`models.registry`)."""
