"""Alembic environment of the indicators service (schema ``indicators``).

After the migrations, the built-in catalog and templates (YAML under ``catalog/`` and
``templates/``) are loaded idempotently: unchanged files change nothing, a changed indicator or
template becomes a new version. Not under ``alembic check`` (a comparison writes nothing); skipped
while the catalog tables do not exist (downgrades).
"""

from hotline.kit.migrations import run_env
from services.indicators import SCHEMA
from services.indicators.models import metadata
from services.indicators.sync import sync_builtin_data

if run_env(schema=SCHEMA, target_metadata=metadata):  # not under ``alembic check``: that only compares
    sync_builtin_data()
