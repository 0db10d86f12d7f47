"""FastAPI application serving the analytics API from the serving store."""
