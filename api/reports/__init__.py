"""PDF reports of an asset or a portfolio: HTML templates with vector charts, rendered to PDF
(``GET /reports/assets/{id}.pdf``, ``GET /reports/portfolios/{id}.pdf``, ``rwa report``)."""
