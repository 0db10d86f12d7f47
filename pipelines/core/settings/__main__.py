"""``python -m pipelines.core.settings`` prints the README's configuration table."""

from pipelines.core.settings import settings_table

print(settings_table())
