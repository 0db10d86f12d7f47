"""Data quality of the silver tables with Great Expectations 1.x.

* :mod:`~pipelines.quality.suites` -- the expectation suites, declared as data;
* :mod:`~pipelines.quality.gate` -- :class:`QualityGate`, run by the silver steps on every
  micro-batch (valid / rejected rows with reasons) and on whole tables after a run;
* :mod:`~pipelines.quality.spark_gate` and :mod:`~pipelines.quality.duck_gate` -- the same
  row-level suites compiled to Spark expressions and to DuckDB SQL (what both share:
  :mod:`~pipelines.quality.compiled`), run by the silver engines without GX;
* :mod:`~pipelines.quality.results` -- the ``silver/quality_results`` table, ``latest_results``
  and the plain-text formatter of ``rwa quality``.

See docs/quality.md.
"""
