"""Alembic environment of the scoring service (schema ``scoring``)."""

from hotline.kit.migrations import run_env
from services.scoring import SCHEMA
from services.scoring.models import metadata

run_env(schema=SCHEMA, target_metadata=metadata)
