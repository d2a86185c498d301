"""Indicators service: evaluation dimensions, the versioned indicator catalog, templates and evaluation schemes."""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "indicators"
