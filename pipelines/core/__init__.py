"""Cross-cutting pieces every layer shares: settings and errors."""
