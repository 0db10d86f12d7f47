"""Ingestion: every source, from the request to the silver records of its payloads.

* :mod:`.base` -- the connector framework (``Connector``, ``FetchWindow``, ``SourceRequest``);
* :mod:`.http` -- the HTTP client and connector base the real sources share;
* :mod:`.payloads` -- the parser base (``PayloadParser``, ``Record``) every source's parsers use;
* one package per source, each its ``connector`` and its ``parsers``: :mod:`.coingecko`,
  :mod:`.defillama`, :mod:`.fred`, :mod:`.worldbank`, :mod:`.newsapi`, :mod:`.news` (RSS/Atom
  feeds), :mod:`.simulated` (the deterministic stand-in, docs/simulator.md); news articles'
  identity and asset links are shared in :mod:`.articles`;
* :mod:`.registry` -- every source once: its connector factory and its parsers per dataset;
* :mod:`.bus` -- where ingested envelopes go (bronze directly, or Kafka).

Silver imports this package (for the parsers); nothing here imports silver.
"""
