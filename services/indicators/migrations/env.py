"""Alembic environment of the indicators service (schema ``indicators``)."""

from hotline.kit.migrations import run_env
from services.indicators import SCHEMA
from services.indicators.models import Base

run_env(schema=SCHEMA, target_metadata=Base.metadata)
