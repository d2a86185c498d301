"""Checking an explanation the way a unit would, with a calculator: the numbers are read out of the Chinese and the
English text, the expression written there is evaluated with plain arithmetic (a small evaluator here, not the
service's code), and the score is recomputed from the text's own numbers by each rule as the domain states it.

Used by the engine's tests and by the end-to-end test over the demo evaluation (GraphQL rows, camelCase).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NUMBER = r"-?\d+(?:\.\d+)?"
HALF_DISPLAYED = 0.5e-4  # values and references are shown to 4 places


def evaluate(expression: str) -> float:
    """``(90 − 80) ÷ (95 − 80) × 20`` → 13.333…: + − × ÷ (also ASCII), parentheses, negative numbers."""
    tokens = re.findall(r"\d+(?:\.\d+)?|[()+\-−×÷*/]", expression)
    assert "".join(tokens) == re.sub(r"\s+", "", expression), f"not plain arithmetic: {expression!r}"
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def atom() -> float:
        token = take()
        if token in ("-", "−"):
            return -atom()
        if token == "(":
            value = sum_()
            assert take() == ")"
            return value
        return float(token)

    def product() -> float:
        value = atom()
        while peek() in ("×", "÷", "*", "/"):
            value = value * atom() if take() in ("×", "*") else value / atom()
        return value

    def sum_() -> float:
        value = product()
        while peek() in ("+", "-", "−"):
            value = value + product() if take() == "+" else value - product()
        return value

    result = sum_()
    assert position == len(tokens), f"trailing tokens in {expression!r}"
    return result


def operands(expression: str) -> list[float]:
    """The numbers of an expression in the order written (a minus where no number or ``)`` precedes it is a sign)."""
    found, sign, previous = [], 1.0, None
    for token in re.findall(r"\d+(?:\.\d+)?|[()+\-−×÷*/]", expression):
        if token[0].isdigit():
            found.append(sign * float(token))
            sign = 1.0
        elif token in ("-", "−") and (previous is None or previous in "(+-−×÷*/"):
            sign = -sign
        previous = token
    return found


def _one(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text)
    return None if match is None else float(match.group(1))


def _chain(pattern: str, text: str) -> tuple[str, float] | None:
    """``… = expression = result``: the expression and the result the text states."""
    match = re.search(pattern, text)
    return None if match is None else (match.group("expr"), float(match.group("result")))


def read(zh: str, en: str) -> dict[str, Any]:
    """The numbers of an applicable row's explanation, from each language (they must agree)."""
    found = {}
    for lang, text, patterns in (
        ("zh", zh, {
            "value": rf"指标值 ({NUMBER})", "reference": rf"参照值 ({NUMBER})",
            "points": rf"分值 ({NUMBER}),得分 {NUMBER}。$", "score": rf"分值 {NUMBER},得分 ({NUMBER})。$",
            "target": rf"目标值 ({NUMBER}),得", "distance": rf"偏离 = [^=;]+ = ({NUMBER})",
            "floor_step": rf"下限 = 参照值 × [\d.]+ ÷ 100 = [^=;]+ = ({NUMBER})",
            "target_step": rf"目标值 = 参照值 × [\d.]+ ÷ 100 = [^=;]+ = ({NUMBER})",
        }),
        ("en", en, {
            "value": rf" was ({NUMBER})", "reference": rf"the reference is ({NUMBER})",
            "points": rf"; {NUMBER} of ({NUMBER}) points\.$", "score": rf"; ({NUMBER}) of {NUMBER} points\.$",
            "target": rf"the target ({NUMBER})", "distance": rf"outside it by [^=;]+ = ({NUMBER})",
            "floor_step": rf"floor = reference × [\d.]+ ÷ 100 = [^=;]+ = ({NUMBER})",
            "target_step": rf"target = reference × [\d.]+ ÷ 100 = [^=;]+ = ({NUMBER})",
        }),
    ):  # fmt: skip
        numbers = {name: _one(p, text) for name, p in patterns.items()}
        head = "得分|专家评分:[^=;]*" if lang == "zh" else "score|scored by experts: [^=;]*"
        numbers["chain"] = _chain(rf"(?:{head}) = (?:[^=;]+? = )?(?P<expr>[^=;]+?) = (?P<result>{NUMBER})", text)
        found[lang] = numbers
    assert found["zh"] == found["en"], f"the languages disagree:\n{zh}\n{en}\n{found}"
    return found["zh"]


def _clamp(score: float, points: float) -> float:
    return max(0.0, min(points, score))


def _recompute(rule: str, direction: str, params: Mapping[str, Any], n: dict[str, Any], experts: list[float]):
    """The score by the rule (spec appendix A as the domain states it) from the text's numbers, and the operands the
    written expression must have (in order), or None when the rule writes none."""
    v, p = n["value"], n["points"]
    lower = direction == "lower_better"
    if rule == "ratio_to_reference":
        r = n["reference"]
        if lower:
            return (p, None) if v <= 0 else (_clamp(r / v * p, p), [r, v, p])
        if r <= 0:
            return (p if v >= r else 0.0), None
        return _clamp(v / r * p, p), [v, r, p]
    if rule == "threshold":
        assert n["target"] == params["target"]
        return (p if (v <= n["target"] if lower else v >= n["target"]) else 0.0), None
    if rule == "linear_band":
        floor, target = params["floor"], params["target"]
        if params.get("relative"):
            floor, target = n["floor_step"], n["target_step"]
        if floor == target:
            return (p if (v <= target if lower else v >= target) else 0.0), None
        return _clamp((v - floor) / (target - floor) * p, p), [v, floor, target, floor, p]
    if rule == "target_band":
        low, high, tolerance = params["low"], params["high"], params.get("tolerance", 0.0)
        if low <= v <= high:
            return p, None
        if tolerance <= 0:
            return 0.0, None
        return _clamp((1 - n["distance"] / tolerance) * p, p), [1.0, n["distance"], tolerance, p]
    if rule == "deduction":
        per, free = params["per_occurrence"], params.get("free_occurrences", 0.0)
        if v <= free:
            return p, None
        return _clamp(p - (v - free) * per, p), ([p, v, free, per] if free else [p, v, per])
    assert rule == "expert"
    return _clamp(v, p), ([*experts, float(len(experts))] if len(experts) > 1 else None)


def _consistent(rule: str, params: Mapping[str, Any], n: dict[str, Any]) -> None:
    """The text's intermediate numbers follow from its others: a relative band's floor and target from the
    reference, a target band's distance from the value and the band."""
    if rule == "linear_band" and params.get("relative"):
        assert abs(n["floor_step"] - n["reference"] * params["floor"] / 100) <= 1e-4, n
        assert abs(n["target_step"] - n["reference"] * params["target"] / 100) <= 1e-4, n
    if rule == "target_band" and not params["low"] <= n["value"] <= params["high"]:
        distance = params["low"] - n["value"] if n["value"] < params["low"] else n["value"] - params["high"]
        assert n["distance"] is not None and abs(n["distance"] - distance) <= 1e-4, n


def _tolerance(f: Callable[[dict], float], numbers: dict[str, Any], score_places: int) -> float:
    """How far a result recomputed from numbers shown to 4 places may lie from the score computed from exact ones:
    each number moved by half its last shown place, the effects added, plus half the score's last place."""
    total = 0.5 * 10.0**-score_places + 1e-9
    for name in ("value", "reference", "distance", "floor_step", "target_step"):
        if numbers.get(name) is None:
            continue
        up, down = dict(numbers), dict(numbers)
        up[name] += HALF_DISPLAYED
        down[name] -= HALF_DISPLAYED
        total += abs(f(up) - f(down)) / 2
    return total


def check(row: Mapping[str, Any], zh: str, en: str, *, score_places: int = 4, experts_used: list[float] = ()) -> dict:
    """Recompute an applicable row's score from its explanation; returns the numbers read. ``row``: ``rule``
    ({type, params}), ``direction``, ``value``, ``points``, ``score`` and ``reference`` ({value}) as served."""
    rule, params, direction = row["rule"]["type"], row["rule"]["params"], row["direction"]
    numbers = read(zh, en)
    # The text's numbers are the row's numbers.
    assert numbers["value"] == row["value"] and numbers["points"] == row["points"], (numbers, row)
    assert numbers["score"] == row["score"], (numbers, row)
    if numbers["reference"] is not None:
        assert numbers["reference"] == round(row["reference"]["value"], 4), (numbers, row)
    _consistent(rule, params, numbers)
    experts = list(experts_used)
    if rule == "expert" and experts:
        assert abs(sum(experts) / len(experts) - numbers["value"]) <= 1e-4, (experts, numbers)
    recomputed, expected_operands = _recompute(rule, direction, params, numbers, experts)

    def again(moved: dict) -> float:
        return _recompute(rule, direction, params, moved, experts)[0]

    tolerance = _tolerance(again, numbers, score_places)
    assert abs(recomputed - numbers["score"]) <= tolerance, (recomputed, numbers, zh)
    if expected_operands is not None:  # the expression written is the rule's, with these numbers, and gives the score
        expression, result = numbers["chain"]
        assert operands(expression) == expected_operands, (expression, expected_operands, zh)
        assert abs(evaluate(expression) - result) <= tolerance, (expression, result)
        assert abs(_clamp(result, numbers["points"]) - numbers["score"]) <= tolerance, (result, numbers)
    return numbers
