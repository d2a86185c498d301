"""Alembic environment of the appeals service (schema ``appeals``)."""

from hotline.kit.migrations import run_env
from services.appeals import SCHEMA
from services.appeals.models import metadata

run_env(schema=SCHEMA, target_metadata=metadata)
