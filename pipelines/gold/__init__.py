"""Gold: silver turned into the tables analysts, models and the serving store read.

``build`` runs everything (all days or a range of days); ``ohlcv``, ``features``, ``onchain``,
``macro`` and ``sentiment`` compute one kind of table each; ``tables`` names the tables and
writes them; ``days`` is the range a run covers. Schemas: docs/data-model.md, section Gold.
"""
