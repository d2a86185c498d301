"""Tables of the ingest service, all in the Postgres schema ``ingest``: SQLModel table classes on ``IngestModel``,
whose own metadata (``service_registry``) holds this service's tables and no other's.

The classes declare what the migrations built (``tests/platform/test_models_match_migrations.py`` compares
them); a change of a table is a new migration first, then the class. ``directory``: the unit tree;
``batches``: batches, problems, coverage, column mappings; ``measures``: the daily measures; ``raw``: the
partitioned raw record tables.
"""

from services.ingest.models.base import IngestModel, metadata
from services.ingest.models.batches import Batch, BatchCoverage, BatchCoverageUnit, BatchProblem, ColumnMapping
from services.ingest.models.directory import Unit, UnitChange, UnitKind
from services.ingest.models.measures import DAILY_MEASURES, DailyMeasure, measure_attribute
from services.ingest.models.raw import (
    RAW_MODELS,
    RawCall,
    RawCallback,
    RawChatSession,
    RawInspection,
    RawKnowledgeUpdate,
    RawRating,
    RawReportedItem,
    RawSmartTest,
    RawWorkOrder,
)

__all__ = [
    "DAILY_MEASURES",
    "RAW_MODELS",
    "Batch",
    "BatchCoverage",
    "BatchCoverageUnit",
    "BatchProblem",
    "ColumnMapping",
    "DailyMeasure",
    "IngestModel",
    "RawCall",
    "RawCallback",
    "RawChatSession",
    "RawInspection",
    "RawKnowledgeUpdate",
    "RawRating",
    "RawReportedItem",
    "RawSmartTest",
    "RawWorkOrder",
    "Unit",
    "UnitChange",
    "UnitKind",
    "measure_attribute",
    "metadata",
]
