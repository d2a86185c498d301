"""The formula language (contracts §1): parsing, problems with positions, evaluation, canonical text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.domain.formula import MAX_DEPTH, BinaryOp, Call, FormulaError, MeasureRef, Negate, Number, parse
from hotline.domain.measures import measure_codes

KNOWN = measure_codes()


def problems_of(text: str, known=KNOWN) -> list[tuple[int, str]]:
    with pytest.raises(FormulaError) as caught:
        parse(text, known)
    return caught.value.problems


def test_a_rate_formula_parses_with_its_measures_and_ratio():
    formula = parse("calls.answered / calls.offered * 100", KNOWN)
    assert formula.measures == {"calls.answered", "calls.offered"}
    assert formula.text == "calls.answered / calls.offered * 100"
    assert formula.evaluate({"calls.answered": 90, "calls.offered": 120}) == pytest.approx(75.0)
    assert formula.ratio() is None  # the top-level operation is "* 100"
    numerator, denominator = parse("calls.answered / calls.offered", KNOWN).ratio()
    assert (numerator.text, denominator.text) == ("calls.answered", "calls.offered")


def test_precedence_unary_minus_and_parentheses():
    assert parse("1 + 2 * 3").evaluate({}) == 7
    assert parse("(1 + 2) * 3").evaluate({}) == 9
    assert parse("10 - 4 - 3").evaluate({}) == 3
    assert parse("10 - (4 - 3)").evaluate({}) == 9
    assert parse("-2 * -3").evaluate({}) == 6
    assert parse("2 / 4 / 2").evaluate({}) == 0.25
    assert parse(".5 + 1e2").evaluate({}) == 100.5


def test_functions():
    values = {"calls.answered": 5, "calls.offered": 10}
    assert parse("min(calls.answered, calls.offered, 7)", KNOWN).evaluate(values) == 5
    assert parse("max(calls.answered, calls.offered)", KNOWN).evaluate(values) == 10
    assert parse("clamp(calls.answered * 30, 0, 100)", KNOWN).evaluate(values) == 100
    assert parse("clamp(1, 5, 2)").evaluate({}) is None  # an empty band is not applicable
    summed = parse("sum(calls.answered) / sum(calls.offered)", KNOWN)
    assert summed.measures == {"calls.answered", "calls.offered"}
    assert summed.evaluate(values) == 0.5
    assert summed.text == "sum(calls.answered) / sum(calls.offered)"


def test_division_by_zero_and_missing_measures_are_not_applicable():
    formula = parse("calls.answered / calls.offered * 100", KNOWN)
    assert formula.evaluate({"calls.answered": 0, "calls.offered": 0}) is None
    assert formula.evaluate({"calls.answered": 3}) is None
    assert formula.evaluate({"calls.answered": 3, "calls.offered": None}) is None
    assert parse("1 / (calls.offered - calls.offered)", KNOWN).evaluate({"calls.offered": 4}) is None
    assert formula.evaluate({"calls.answered": 1e308, "calls.offered": 1e-308}) is None  # overflow


def test_every_problem_is_reported_at_once_with_positions():
    text = "calls.answred / calls.ofered * 100 + surveys.nope"
    assert problems_of(text) == [
        (0, "unknown measure 'calls.answred'"),
        (16, "unknown measure 'calls.ofered'"),
        (37, "unknown measure 'surveys.nope'"),
    ]
    # A syntax error, a bad character and unknown measures, before and after the break.
    mixed = problems_of("calls.answred # 2 / (calls.offered + nope")
    assert (14, "unexpected character '#'") in mixed
    assert (0, "unknown measure 'calls.answred'") in mixed
    assert (16, "expected an operator (+ - * /) or the end, found '2'") in mixed
    assert (37, "unknown measure 'nope'") in mixed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, "the formula is empty")),
        ("   ", (0, "the formula is empty")),
        ("1 +", (3, "expected a number, a measure code, a function or '(', found the end of the formula")),
        ("(1 + 2", (6, "expected ')' to close the '(' at 0, found the end of the formula")),
        ("1 2", (2, "expected an operator (+ - * /) or the end, found '2'")),
        ("foo(1, 2)", (0, "unknown function 'foo' (known: min, max, clamp, sum)")),
        ("clamp(1, 2)", (0, "clamp() takes 3 arguments (value, low, high), got 2")),
        ("min(1)", (0, "min() needs at least 2 arguments, got 1")),
        ("sum(1 + 2)", (4, "sum() takes one measure code, found '1'")),
        ("max + 1", (0, "max is a function and needs arguments: max(…)")),
        ("calls.", (5, "unexpected character '.'")),
        ("1" * 400, (0, "the number " + "1" * 400 + " is too large")),
    ],
)
def test_syntax_errors_are_precise(text, expected):
    assert expected in problems_of(text)


def test_depth_and_length_limits_are_errors_not_crashes():
    assert problems_of("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert problems_of("-" * 500 + "1")
    assert problems_of("+".join(["1"] * 600))
    assert problems_of("1+" * 1500 + "1") == [(2000, "the formula is longer than 2000 characters")]


def test_without_a_catalog_any_code_is_accepted():
    assert parse("a.b / c").measures == {"a.b", "c"}


def test_formula_error_message_lists_problems():
    with pytest.raises(FormulaError, match=r"at 0: unknown measure 'x\.y'"):
        parse("x.y", KNOWN)


# --- properties ----------------------------------------------------------------------------------

MEASURE_SAMPLE = sorted(KNOWN)[:12]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_the_parser_never_crashes_on_arbitrary_text(text):
    try:
        formula = parse(text, KNOWN)
    except FormulaError as error:
        assert error.problems
        assert all(0 <= pos <= len(text) for pos, _ in error.problems)
    else:
        assert parse(formula.text, KNOWN) == formula


ALPHABET = st.sampled_from([*"0123456789.+-*/(), e", "calls.offered", "min", "max(", "clamp(", "sum(", "x"])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_the_parser_never_crashes_on_formula_like_text(text):
    try:
        parse(text, KNOWN)
    except FormulaError as error:
        assert error.problems


def trees():
    leaves = st.one_of(
        st.floats(min_value=0, max_value=1e6, allow_nan=False).map(Number),
        st.sampled_from(MEASURE_SAMPLE).map(MeasureRef),
        st.sampled_from(MEASURE_SAMPLE).map(lambda c: MeasureRef(c, summed=True)),
    )

    def extend(children):
        return st.one_of(
            children.map(Negate),
            st.tuples(st.sampled_from("+-*/"), children, children).map(lambda t: BinaryOp(*t)),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)).map(
                lambda t: Call(t[0], tuple(t[1]))
            ),
            st.tuples(children, children, children).map(lambda t: Call("clamp", t)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


VALUES = st.dictionaries(
    st.sampled_from(MEASURE_SAMPLE),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(trees(), VALUES)
def test_canonical_text_round_trips_and_evaluation_never_raises(tree, values):
    from hotline.domain.formula import Formula

    formula = Formula(tree)
    reparsed = parse(formula.text, KNOWN)
    assert reparsed.root == tree
    assert reparsed.text == formula.text
    result = formula.evaluate(values)
    assert result is None or math.isfinite(result)
