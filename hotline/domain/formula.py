"""The formula language indicators are written in (contracts §1): safe arithmetic over measure codes.

A hand-written tokenizer and recursive-descent parser — never ``eval``. Grammar::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | MEASURE | FUNC "(" args ")" | "(" expr ")"
    FUNC    := min | max | clamp | sum            (sum takes exactly one measure)

Parsing reports every problem it can find in one ``FormulaError`` (0-based character positions):
every invalid character, every unknown measure, every wrong function call, and the first point where
the grammar breaks (after that, the rest of the text cannot be read reliably). Evaluation returns
``None`` — *not applicable* — for a division by zero, a missing measure or a non-finite result; it
never raises on arithmetic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

MAX_LENGTH = 2000  # characters; a formula is a line, not a program
MAX_DEPTH = 64  # nesting of the expression tree (parentheses, calls, chained operators)
FUNCTIONS = ("min", "max", "clamp", "sum")

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"|(?P<op>[-+*/(),])"
)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


class FormulaError(ValueError):
    """A formula that cannot be used; ``problems`` lists every ``(position, message)`` found."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("; ".join(f"at {pos}: {msg}" for pos, msg in self.problems))


# --- the expression tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class MeasureRef:
    code: str
    summed: bool = False  # written as sum(code); means the same as the bare code


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node


@dataclass(frozen=True, slots=True)
class BinaryOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Number | MeasureRef | Negate | BinaryOp | Call


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | name | op | end
    text: str
    pos: int


def _tokenize(text: str, problems: list[tuple[int, str]]) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            problems.append((pos, f"unexpected character {text[pos]!r}"))
            pos += 1
            continue
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _SyntaxStop(Exception):
    """The grammar broke here; the rest cannot be parsed reliably."""


class _Parser:
    def __init__(self, tokens: list[_Token], known: Collection[str] | None, problems: list[tuple[int, str]]):
        self.tokens = tokens
        self.index = 0
        self.known = known
        self.problems = problems
        self.nesting = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> _SyntaxStop:
        token = token or self.current
        self.problems.append((token.pos, message))
        return _SyntaxStop()

    def describe(self, token: _Token) -> str:
        return "the end of the formula" if token.kind == "end" else repr(token.text)

    def parse(self) -> Node:
        node = self.expr()
        if self.current.kind != "end":
            token = self.current
            raise self.fail(f"expected an operator (+ - * /) or the end, found {self.describe(token)}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.current.text in ("+", "-") and self.current.kind == "op":
            op = self.advance().text
            node = BinaryOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.current.text in ("*", "/") and self.current.kind == "op":
            op = self.advance().text
            node = BinaryOp(op, node, self.unary())
        return node

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.fail(f"the formula nests more than {MAX_DEPTH} levels deep")

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.text == "-":
            self.advance()
            self.enter()
            node = Negate(self.unary())
            self.nesting -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if not math.isfinite(value):
                self.problems.append((token.pos, f"the number {token.text} is too large"))
            return Number(value)
        if token.kind == "name":
            self.advance()
            if self.current.kind == "op" and self.current.text == "(":
                return self.call(token)
            return self.measure(token)
        if token.kind == "op" and token.text == "(":
            self.advance()
            self.enter()
            node = self.expr()
            self.expect_close(token)
            self.nesting -= 1
            return node
        raise self.fail(f"expected a number, a measure code, a function or '(', found {self.describe(token)}")

    def expect_close(self, opening: _Token) -> None:
        if self.current.kind == "op" and self.current.text == ")":
            self.advance()
            return
        raise self.fail(
            f"expected ')' to close the '(' at {opening.pos}, found {self.describe(self.current)}", self.current
        )

    def measure(self, token: _Token, summed: bool = False) -> MeasureRef:
        if token.text in FUNCTIONS:
            self.problems.append((token.pos, f"{token.text} is a function and needs arguments: {token.text}(…)"))
        elif self.known is not None and token.text not in self.known:
            self.problems.append((token.pos, f"unknown measure {token.text!r}"))
        return MeasureRef(token.text, summed)

    def call(self, name: _Token) -> Node:
        opening = self.advance()  # "("
        self.enter()
        if name.text == "sum":
            node = self.sum_call(name, opening)
        else:
            args: list[Node] = []
            if not (self.current.kind == "op" and self.current.text == ")"):
                args.append(self.expr())
                while self.current.kind == "op" and self.current.text == ",":
                    self.advance()
                    args.append(self.expr())
            self.expect_close(opening)
            self.check_arity(name, len(args))
            node = Call(name.text, tuple(args))
        self.nesting -= 1
        return node

    def sum_call(self, name: _Token, opening: _Token) -> Node:
        token = self.current
        if token.kind != "name" or token.text in FUNCTIONS:
            raise self.fail(f"sum() takes one measure code, found {self.describe(token)}")
        self.advance()
        self.expect_close(opening)
        return self.measure(token, summed=True)

    def check_arity(self, name: _Token, count: int) -> None:
        if name.text in ("min", "max") and count < 2:
            self.problems.append((name.pos, f"{name.text}() needs at least 2 arguments, got {count}"))
        elif name.text == "clamp" and count != 3:
            self.problems.append((name.pos, f"clamp() takes 3 arguments (value, low, high), got {count}"))
        elif name.text not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            self.problems.append((name.pos, f"unknown function {name.text!r} (known: {known})"))


def _unknown_measures_after(parser: _Parser, problems: list[tuple[int, str]]) -> None:
    """After a syntax stop, still report unknown measure codes in the unread rest of the text."""
    tokens = parser.tokens
    for i in range(parser.index, len(tokens)):
        token = tokens[i]
        next_is_call = i + 1 < len(tokens) and tokens[i + 1].text == "("
        is_measure = token.kind == "name" and not next_is_call and token.text not in FUNCTIONS
        if is_measure and parser.known is not None and token.text not in parser.known:
            problems.append((token.pos, f"unknown measure {token.text!r}"))


def _depth(node: Node) -> int:
    # Iterative so that a long chain (1+1+1+…) cannot exhaust the interpreter's stack.
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(current))
    return deepest


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Negate):
        return (node.operand,)
    if isinstance(node, BinaryOp):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def parse(text: str, known_measures: Collection[str] | None = None) -> Formula:
    """Parse ``text``; raise ``FormulaError`` listing every problem found (positions 0-based)."""
    if not isinstance(text, str):
        raise FormulaError([(0, "a formula must be text")])
    if len(text) > MAX_LENGTH:
        raise FormulaError([(MAX_LENGTH, f"the formula is longer than {MAX_LENGTH} characters")])
    problems: list[tuple[int, str]] = []
    known = frozenset(known_measures) if known_measures is not None else None
    parser = _Parser(_tokenize(text, problems), known, problems)
    root: Node | None = None
    if len(parser.tokens) == 1:
        problems.append((0, "the formula is empty"))
    else:
        try:
            root = parser.parse()
        except _SyntaxStop:
            _unknown_measures_after(parser, problems)
    if root is not None and not problems and _depth(root) > MAX_DEPTH:
        problems.append((0, f"the formula nests more than {MAX_DEPTH} levels deep; simplify it"))
    if problems or root is None:
        raise FormulaError(problems)
    return Formula(root)


# --- the parsed formula --------------------------------------------------------------------------


class Formula:
    """A parsed formula: its measures, canonical text, evaluation and ratio split."""

    __slots__ = ("measures", "root", "text")

    def __init__(self, root: Node) -> None:
        self.root = root
        self.text = _render(root)
        self.measures = frozenset(_collect_measures(root))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Formula) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def evaluate(self, values: Mapping[str, float]) -> float | None:
        """The formula's value; ``None`` (not applicable) on division by zero, a missing measure or overflow."""
        try:
            return _evaluate(self.root, values)
        except _NotApplicable:
            return None

    def ratio(self) -> tuple[Formula, Formula] | None:
        """Numerator and denominator when the top-level operation is a division, else ``None``."""
        if isinstance(self.root, BinaryOp) and self.root.op == "/":
            return Formula(self.root.left), Formula(self.root.right)
        return None


class _NotApplicable(Exception):
    pass


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise _NotApplicable
    return value


def _evaluate(node: Node, values: Mapping[str, float]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, MeasureRef):
        raw = values.get(node.code)
        if raw is None or isinstance(raw, bool):
            raise _NotApplicable
        try:
            return _finite(float(raw))
        except (TypeError, ValueError, OverflowError):
            raise _NotApplicable from None
    if isinstance(node, Negate):
        return -_evaluate(node.operand, values)
    if isinstance(node, BinaryOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if node.op == "+":
            return _finite(left + right)
        if node.op == "-":
            return _finite(left - right)
        if node.op == "*":
            return _finite(left * right)
        if right == 0:
            raise _NotApplicable
        return _finite(left / right)
    args = [_evaluate(arg, values) for arg in node.args]
    if node.name == "min":
        return min(args)
    if node.name == "max":
        return max(args)
    value, low, high = args
    if low > high:
        raise _NotApplicable
    return min(max(value, low), high)


def _collect_measures(root: Node) -> set[str]:
    found, stack = set(), [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MeasureRef):
            found.add(node.code)
        stack.extend(_children(node))
    return found


def _precedence(node: Node) -> int:
    if isinstance(node, BinaryOp):
        return _PRECEDENCE[node.op]
    if isinstance(node, Negate):
        return 3
    return 4


def _render(node: Node) -> str:
    """Canonical text: single spaces around binary operators, only the parentheses the tree needs.

    ``parse(f.text)`` gives back the same tree, so the text is a faithful, stable key.
    """
    if isinstance(node, Number):
        value = node.value
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(node, MeasureRef):
        return f"sum({node.code})" if node.summed else node.code
    if isinstance(node, Negate):
        inner = _render(node.operand)
        return f"-{inner}" if _precedence(node.operand) >= 3 else f"-({inner})"
    if isinstance(node, BinaryOp):
        own = _PRECEDENCE[node.op]
        left, right = _render(node.left), _render(node.right)
        if _precedence(node.left) < own:
            left = f"({left})"
        # The right operand keeps its parentheses at equal precedence: a - (b - c) is another tree.
        if _precedence(node.right) <= own:
            right = f"({right})"
        return f"{left} {node.op} {right}"
    return f"{node.name}({', '.join(_render(arg) for arg in node.args)})"
