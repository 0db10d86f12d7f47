"""Cross-cutting request protection: the tier feature matrix, rate limits and throttles,
the security middleware (request id, body-size limit, headers, CORS, access log) and metrics."""
