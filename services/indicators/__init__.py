"""Indicators service: evaluation dimensions; later the versioned indicator catalog and schemes."""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "indicators"
