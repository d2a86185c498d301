"""Scoring service: evaluation runs and their results, references, alerts and reports (issue 5).

Pure core (``scheme``, ``rules``, ``references``, ``ranking``, ``statistics``, ``weights``, ``engine``,
``explain``, ``alerts``) — plain functions over plain data; edges (``runs``, ``schema``,
``endpoints``, ``reports``) translate between it, the database and the other services.
"""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "scoring"
