"""Portfolios: transactions in the operational database, holdings and P&L derived from them
(:mod:`api.portfolios.ledger`), valued and risk-assessed on the served data."""
