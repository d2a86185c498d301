"""The values a decision accepts (plain functions, like ``workflow``): a value request upheld takes the value
asked for unless the decision accepts another one, and says so; no value is accepted outside what the indicator
can take, and one better than anything observed in the cohort is flagged to the reviewer (``plausibility``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from services.appeals.plausibility import IndicatorFacts, better_than_observed, out_of_range
from services.appeals.workflow import VALUE_KINDS, Ask, Problem


def check_accepted(
    accepted: Mapping[str, float],
    asks: Sequence[Ask],
    newly_upheld: Collection[str],
    facts: Mapping[str, IndicatorFacts],
) -> list[Problem]:
    """Values the decision accepts instead of those asked for: only for an upheld value request, and within what
    the indicator can take; an upheld value asked for outside it must be replaced by an accepted one."""
    problems = []
    value_asks = {a.indicator: a for a in asks if a.kind in VALUE_KINDS}
    for code in sorted(accepted):
        if code not in newly_upheld or code not in value_asks:
            problems.append(
                Problem("NOT_A_VALUE_UPHELD", f"{code!r} is not a value this decision upholds", "accepted_values")
            )
        elif (why := out_of_range(accepted[code], facts.get(code, IndicatorFacts()))) is not None:
            problems.append(Problem("VALUE_OUT_OF_RANGE", f"the accepted value for {code!r}: {why}", "accepted_values"))
    for code in sorted(set(newly_upheld) & set(value_asks) - set(accepted)):
        value = value_asks[code].value
        if value is None:
            problems.append(
                Problem(
                    "NO_ACCEPTED_VALUE", f"{code!r}: say which value is accepted (none was asked)", "accepted_values"
                )
            )
        elif (why := out_of_range(value, facts.get(code, IndicatorFacts()))) is not None:
            problems.append(
                Problem("VALUE_OUT_OF_RANGE", f"the value asked for {code!r}: {why}; accept one within it",
                        "accepted_values")
            )  # fmt: skip
    return problems


def decision_warnings(
    accepted: Mapping[str, float],
    asks: Sequence[Ask],
    newly_upheld: Collection[str],
    facts: Mapping[str, IndicatorFacts],
) -> list[Problem]:
    """What the reviewer should know before (and is told after) accepting values: a value better than anything
    observed in the cohort, and a value accepted other than the one asked for."""
    warnings = []
    for ask in asks:
        if ask.indicator not in newly_upheld or ask.kind not in VALUE_KINDS:
            continue
        value = accepted.get(ask.indicator, ask.value)
        if value is None:
            continue
        if (why := better_than_observed(value, facts.get(ask.indicator, IndicatorFacts()))) is not None:
            warnings.append(Problem("BETTER_THAN_OBSERVED", f"{ask.indicator!r}: {why}", "accepted_values"))
        if ask.value is not None and value != ask.value:
            warnings.append(
                Problem("VALUE_DIFFERS", f"{ask.indicator!r}: {value:g} is accepted, not the {ask.value:g} asked for",
                        "accepted_values")
            )  # fmt: skip
    return warnings


def accepted_record(accepted: Mapping[str, float], asks: Sequence[Ask], newly_upheld: Collection[str]) -> list[dict]:
    """What a decision stores and shows of each upheld value: {indicator, asked, accepted}."""
    return [
        {"indicator": a.indicator, "asked": a.value, "accepted": accepted.get(a.indicator, a.value)}
        for a in asks
        if a.indicator in newly_upheld and a.kind in VALUE_KINDS
    ]
