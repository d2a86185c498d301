"""Scoring service: evaluation runs and their results, references, alerts and reports (issue 5).

Pure core — plain functions over plain data, tested without a database: ``scheme`` (the scheme
document), ``rules``, ``references``, ``ranking``, ``statistics`` (Wilson intervals, trends),
``weights`` (entropy, CRITIC, AHP), ``engine`` (one run's computation), ``totals`` (unit totals of outcome
format 3: exact sums rounded once, withheld totals, display ties; ``legacy`` keeps formats 1 and 2's),
``explain``, ``calculation`` and ``reference_basis`` (the "why" in Chinese and English, with the arithmetic
a unit can redo),
``alerts`` (rules over daily measures), ``periods``.

Edges: ``runs`` (start, publish, settle, expert scores, appeal revisions), ``worker`` (the job queue:
``run_job`` polled with ``FOR UPDATE SKIP LOCKED`` by a task of the app's lifespan), ``store`` and
``detail`` and ``figures`` (a revision's rows: per unit a head and one float64 array of its
indicator figures — outcome formats 2 and 3 — or, for revisions made before, one compact JSON document;
expanded on read to the same full result), ``repository``
(every read scoped in SQL against the ``unit_ref`` read model), ``entities``/``types``/``schema``
(the subgraph), ``endpoints`` (REST for appeals and report downloads), ``reports``, ``report_pdf`` and
``charts`` (the reports, in Chinese, set in the font shipped in ``fonts/``), ``sources``
(ingest and indicators over their contracts, docs/contracts.md §4–§6).

Decisions: a run is keyed by (scheme version, cohort, period), so starting it twice returns it; a
revision is never updated — a recomputation or an appeal makes the next one, computed from stored
inputs (the measures fetched, expert scores, adjustments), so every revision can be reproduced and
its SHA-256 compared; a ``UnitResult`` keeps one id across revisions (appeals refer to it).
Visibility: the organizer's side (a scope covering the run's organizer) sees a run at once; the
cohort's units see their own results only once published, and peers' details only when the scheme
makes rankings public.
"""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "scoring"
