"""Alembic environment of the indicators service (schema ``indicators``).

After the migrations, the built-in catalog and templates (YAML under ``catalog/`` and
``templates/``) are loaded idempotently: unchanged files change nothing, a changed indicator or
template becomes a new version. Skipped while the catalog tables do not exist (downgrades).
"""

from hotline.kit.migrations import run_env
from services.indicators import SCHEMA
from services.indicators.models import metadata
from services.indicators.sync import sync_builtin_data

run_env(schema=SCHEMA, target_metadata=metadata)
sync_builtin_data()
