"""Ingest service: the unit directory (master data); later, raw records, data quality and daily measures."""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "ingest"
