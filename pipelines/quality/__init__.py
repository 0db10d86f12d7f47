"""Data quality of the silver tables with Great Expectations 1.x.

* :mod:`~pipelines.quality.suites` -- the expectation suites, declared as data;
* :mod:`~pipelines.quality.gate` -- :class:`QualityGate`, run by the silver steps on every
  micro-batch (valid / rejected rows with reasons) and on whole tables after a run;
* :mod:`~pipelines.quality.results` -- the ``silver/quality_results`` table, ``latest_results``
  and the plain-text formatter of ``rwa quality``.

See docs/quality.md.
"""
