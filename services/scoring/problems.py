"""Why a scoring command was refused: the input field to blame, a stable code and a message for people.

The codes are part of the API (``ScoringProblem.code``); the messages are for people and may change.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every code a scoring payload may carry, with what it means (the schema's description lists them).
CODES = {
    "forbidden": "the caller's roles may not do this",
    "not_found": "no such run, scheme version, alert or unit among those the caller may see",
    "invalid_id": "a scheme id in neither accepted form",
    "version_conflict": "the scheme id's version and `schemeVersion` disagree",
    "version_required": "no scheme version given, neither in the id nor as `schemeVersion`",
    "invalid_period": "a period that cannot be read",
    "not_published": "the scheme version is not published",
    "invalid_scheme": "the scheme document cannot be scored",
    "period_mismatch": "the period's kind is not the scheme's granularity",
    "period_too_short": "fewer months than the scheme's kind needs",
    "outside_scope": "the scheme's organizer lies outside the caller's subtree",
    "unknown_unit": "a unit that does not exist or lies outside the caller's subtree",
    "empty_cohort": "no unit of the cohort",
    "not_finished": "the run has not finished computing",
    "already_published": "the run is already published",
    "results_final": "the run's results are final",
    "required": "a required text is blank",
    "not_expert_scored": "the indicator is not expert-scored in the run's scheme",
    "out_of_range": "a score outside 0 to the indicator's points",
    "duplicate": "the same unit and indicator twice in one expert's sheet",
    "too_many": "more scores in one sheet than it may hold",
    "not_in_cohort": "the unit is not in the run's cohort",
    "unknown_indicator": "the indicator is not in the run's scheme",
    "unknown_records": "records ingest does not know",
    "unknown_kind": "an adjustment kind other than exclude_records, correct_value, expert_score",
    "unknown_rule": "an alert rule that does not exist",
    "invalid_range": "a date range that runs backwards or is too long",
    "unknown_method": "a weighting method other than entropy or critic",
    "insufficient_data": "too few units with every indicator applicable to weigh",
    "invalid_matrix": "a judgement matrix that is not square, finite, positive and reciprocal",
    "size_mismatch": "the number of indicators differs from the size of the judgement matrix",
    "inconsistent": "judgements whose consistency ratio exceeds 0.1",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a command was refused. ``path`` names the input field (``input.period``, ``runId``),
    empty when the whole request is to blame; ``code`` is one of ``CODES``."""

    path: str
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undocumented problem code {self.code!r}")


def messages(problems: list[Problem]) -> list[str]:
    """The messages alone (contracts §6 answers ``error.details.problems`` as text)."""
    return [p.message for p in problems]
