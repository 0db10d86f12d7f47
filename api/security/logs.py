"""JSON log lines, each carrying the id of the request it was written under.

The security middleware sets :data:`REQUEST_ID` for the length of a request; a log-record
factory copies it into every record, whoever logs (the access log, a route, a library, the
server), so one grep of the id finds everything a request caused. Work handed to the
threadpool keeps it: anyio copies the context into its worker threads.

What goes into a line is chosen by the caller (``extra={"fields": {...}}``); nothing here logs
headers, query strings or bodies, which is where passwords, tokens and keys travel.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from contextvars import ContextVar
from typing import Any

import orjson

#: The id of the request being served, or None outside a request.
REQUEST_ID: ContextVar[str | None] = ContextVar("rwa_request_id", default=None)

#: The logger of the access log: one JSON line per response.
ACCESS_LOGGER = "rwa.access"

_installed = False


def install_record_factory() -> None:
    """Make every log record carry ``request_id`` (idempotent; once per process)."""
    global _installed  # the factory is process-wide by nature
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, pid, and the
    record's ``fields`` (an ``extra``), plus the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": os.getpid(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def access_logger() -> logging.Logger:
    """The access logger, with a JSON handler on stderr unless one was configured (e.g. by
    :data:`LOG_CONFIG` under ``rwa serve``); it does not propagate, so no root handler writes
    it a second time in another format."""
    install_record_factory()
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


#: uvicorn's ``log_config`` under ``rwa serve``: every line JSON, with the request id.
#: uvicorn's own access log is off there (``access_log=False``): it writes query strings.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
        ACCESS_LOGGER: {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
