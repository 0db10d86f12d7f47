"""The resources' fields merged into the one settings object the pipeline code takes."""

from __future__ import annotations

from typing import Any, Protocol

from pipelines.core.settings import Settings, get_settings


class SettingsPart(Protocol):
    def settings_fields(self) -> dict[str, Any]: ...


def pipeline_settings(*parts: SettingsPart) -> Settings:
    """The environment's settings with the fields of ``parts`` (resources) put over them."""
    fields = get_settings().model_dump()
    for part in parts:
        fields |= part.settings_fields()
    return Settings.model_validate(fields)
