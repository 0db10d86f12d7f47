"""Risk scoring: a composite 1-100 score per asset with market, credit, regulatory and technical
sub-scores, each explained by the factors that drove it. Methodology: docs/risk.md."""
