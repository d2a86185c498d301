"""The base of the ingest service's table classes: its own registry and metadata, schema ``ingest``."""

from __future__ import annotations

from sqlalchemy import DateTime, func

from hotline.kit.db import ServiceModel, service_registry
from services.ingest import SCHEMA

TIMESTAMPTZ = DateTime(timezone=True)
NOW = {"server_default": func.now()}


class IngestModel(ServiceModel, registry=service_registry(SCHEMA)):
    """Base of the ingest service's table classes (its own metadata, schema ``ingest``)."""


# The metadata Alembic compares against (migrations/env.py).
metadata = IngestModel.metadata
