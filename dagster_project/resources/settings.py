"""Resources stand for parts of the project's one settings object; this is where the two meet.

Each resource class declares ``SETTINGS``: its field name -> the :class:`Settings` field it
holds. :func:`from_settings` builds a resource from settings, :func:`pipeline_settings` merges
resources back over the environment's settings into what the pipeline code takes.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, ClassVar, Protocol, TypeVar

from pipelines.core.settings import Settings, get_settings, variable_owners


class SettingsPart(Protocol):
    SETTINGS: ClassVar[dict[str, str]]


ResourceT = TypeVar("ResourceT", bound=SettingsPart)


def from_settings(cls: type[ResourceT], settings: Settings, **overrides: Any) -> ResourceT:
    """``cls`` with each ``SETTINGS`` field taken from ``settings`` (paths as text), then
    ``overrides`` (fields a deployment sets itself)."""
    values = {field: setting_value(settings, name) for field, name in cls.SETTINGS.items()}
    values = {k: str(v) if isinstance(v, PurePath) else v for k, v in values.items()}
    return cls(**(values | overrides))


def setting_value(settings: Settings, variable: str) -> Any:
    """The value of the setting read from ``RWA_<variable>``."""
    section, field = variable_owners()[variable]
    return getattr(getattr(settings, section), field)


def pipeline_settings(*parts: SettingsPart) -> Settings:
    """The environment's settings with the ``SETTINGS`` fields of ``parts`` put over them."""
    fields = get_settings().model_dump()
    for part in parts:
        fields |= {name: getattr(part, field) for field, name in part.SETTINGS.items()}
    return Settings.model_validate(fields)
