"""Alembic environment of the ingest service (schema ``ingest``)."""

from hotline.kit.migrations import run_env
from services.ingest import SCHEMA
from services.ingest.models import metadata

run_env(schema=SCHEMA, target_metadata=metadata)
