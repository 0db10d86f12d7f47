"""Exceptions of the project: one base class, one subclass per kind of failure users act on."""

from __future__ import annotations


class RwaError(Exception):
    """Base class of every error the project raises on purpose."""


class ConfigurationError(RwaError):
    """A setting is missing or invalid; the message names the setting."""


class DataContractError(RwaError):
    """Input does not match the data contract; the message names the offending field."""


class DataQualityError(RwaError):
    """A batch failed its data-quality gate (too large a share of refused records); nothing
    of it was merged. The message names the dataset, the share and the threshold."""


class StoreUnavailableError(RwaError):
    """The serving store cannot be reached."""


class RunInProgressError(RwaError):
    """Another run holds what this one needs (a silver stream's checkpoint); the message names
    it. Retry once that run has finished."""


class NotFoundError(RwaError):
    """A requested entity (asset, table, object) does not exist."""


class FetchError(RwaError):
    """A source could not be fetched. ``retryable`` says whether trying again may succeed
    (429, 5xx, timeouts) or not (4xx, a body that is not what the API documents)."""

    def __init__(
        self, message: str, *, source: str, url: str, status: int | None, retryable: bool
    ) -> None:
        super().__init__(message)
        self.source = source
        self.url = url
        self.status = status
        self.retryable = retryable
