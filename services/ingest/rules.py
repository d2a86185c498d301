"""How each catalog measure is computed from raw records: one SQL expression per measure.

Each rule names the record kind, the *side* that decides which unit the value counts for, and an SQL
expression over one raw row (alias ``r``) giving that row's contribution (0 when it does not count).
A (unit, day) value is the sum of the contributions of the rows of the unit's whole subtree on that
day. The same expressions serve the aggregation, ``/measures/sources`` and ``/measures/contribution``,
so an explanation can never disagree with a value. ``tests/ingest/test_rules.py`` checks that the rules
cover the catalog exactly (both directions).

What a rule *needs* (``needs``): the optional fields of its record kind it reads, derived from its expression —
a measure is covered by a batch only if the batch supplied them (docs/contracts.md §4, "Coverage"). A source
that sends no ``complaint`` column has not said "no complaints", so ``calls.complaints`` is not covered by it.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from hotline.domain.measures import Aggregation, measure_catalog
from services.ingest.records import KINDS, MOBILE_CHANNELS

# Which column names the unit a measure counts for.
SIDES = {
    "unit": "r.unit_id",
    # the undertaking unit the order was dispatched to; the receiving body when handled directly
    "handling": "coalesce(r.handling_unit_id, r.unit_id)",
}

# Default time limits of the spec where the source does not give its own.
DISPATCH_LIMIT = "interval '2 hours'"
MOBILE_RESPONSE_LIMIT = "interval '2 hours'"
FIRST_CONTACT_LIMIT = "interval '24 hours'"
KNOWLEDGE_LIMIT = "interval '24 hours'"


@dataclass(frozen=True, slots=True)
class Rule:
    measure: str
    kind: str
    side: str
    expression: str


def _b(condition: str) -> str:
    """A 0/1 contribution from a boolean condition (NULL counts as false)."""
    return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _v(condition: str, value: str) -> str:
    """``value`` when ``condition`` holds, else 0."""
    return f"(CASE WHEN {condition} THEN coalesce({value}, 0) ELSE 0 END)"


def _secs(later: str, earlier: str) -> str:
    return f"extract(epoch FROM ({later} - {earlier}))"


_INBOUND = "r.direction = 'inbound' AND r.outcome <> 'phantom'"
_OFFERED = "r.direction = 'inbound' AND r.outcome IN ('answered', 'abandoned')"
_ANSWERED = "r.direction = 'inbound' AND r.outcome = 'answered'"
_ABANDONED = "r.direction = 'inbound' AND r.outcome = 'abandoned'"
_MOBILE = "r.channel IN (" + ", ".join(f"'{c}'" for c in MOBILE_CHANNELS) + ")"
_DISPATCHED = "r.handling_unit_id IS NOT NULL AND NOT coalesce(r.handled_directly, false)"
_CLOSED = "r.closed_at IS NOT NULL"
_ON_TIME = f"{_CLOSED} AND coalesce(r.on_time, r.closed_at <= r.due_at)"
_DISSATISFIED = "r.rating <= 2"


def _reason(code: str) -> Rule:
    return Rule(f"surveys.reason.{code}", "rating", "unit", _b(f"{_DISSATISFIED} AND '{code}' = ANY(r.reasons)"))


RULES: tuple[Rule, ...] = (
    # --- call: the unit that took the call; counts on the day the call started
    Rule("calls.offered", "call", "unit", _b(_OFFERED)),
    Rule("calls.answered", "call", "unit", _b(_ANSWERED)),
    Rule("calls.answered_within_15s", "call", "unit", _b(f"{_ANSWERED} AND coalesce(r.queue_seconds, 0) <= 15")),
    Rule("calls.answered_within_20s", "call", "unit", _b(f"{_ANSWERED} AND coalesce(r.queue_seconds, 0) <= 20")),
    Rule("calls.abandoned", "call", "unit", _b(_ABANDONED)),
    Rule("calls.answer_wait_seconds", "call", "unit", _v(_ANSWERED, "r.queue_seconds")),
    Rule("calls.abandon_wait_seconds", "call", "unit", _v(_ABANDONED, "r.queue_seconds")),
    Rule("calls.queue_seconds", "call", "unit", _v(_OFFERED, "r.queue_seconds")),
    Rule("calls.ring_seconds", "call", "unit", _v(_ANSWERED, "r.ring_seconds")),
    Rule("calls.talk_seconds", "call", "unit", _v(_ANSWERED, "r.talk_seconds")),
    Rule("calls.handle_seconds", "call", "unit", _v(_ANSWERED, "coalesce(r.handle_seconds, r.talk_seconds)")),
    Rule("calls.ivr_entered", "call", "unit", _b(f"{_INBOUND} AND r.ivr_seconds IS NOT NULL")),
    Rule("calls.ivr_seconds", "call", "unit", _v(_INBOUND, "r.ivr_seconds")),
    Rule("calls.ivr_resolved", "call", "unit", _b("r.direction = 'inbound' AND r.outcome = 'ivr_resolved'")),
    Rule("calls.inbound", "call", "unit", _b(_INBOUND)),
    Rule("calls.outbound", "call", "unit", _b("r.direction = 'outbound'")),
    Rule("calls.transferred", "call", "unit", _b(f"{_ANSWERED} AND r.transferred")),
    Rule("calls.resolved_first_contact", "call", "unit", _b(f"{_ANSWERED} AND r.resolved_first_contact")),
    # the source's flag; where it gave none, ingest's 7-day look-back over hashed callers (``repeats.py``)
    Rule("calls.repeat", "call", "unit", _b(f"{_ANSWERED} AND coalesce(r.repeat_caller, r.repeat_lookback)")),
    Rule("calls.complaints", "call", "unit", _b("r.outcome <> 'phantom' AND r.complaint")),
    # --- work_order: received side = unit_id; handling side = handling unit; day received
    Rule("orders.received", "work_order", "unit", "1"),
    Rule("orders.received_mobile", "work_order", "unit", _b(_MOBILE)),
    Rule(
        "orders.mobile_responded_on_time",
        "work_order",
        "unit",
        _b(f"{_MOBILE} AND r.first_response_at <= r.received_at + {MOBILE_RESPONSE_LIMIT}"),
    ),
    Rule("orders.handled_directly", "work_order", "unit", _b("r.handled_directly")),
    Rule(
        "orders.direct_reopened",
        "work_order",
        "unit",
        _b("r.handled_directly AND (r.reopened OR r.handling_unit_id IS NOT NULL)"),
    ),
    Rule("orders.dispatched", "work_order", "unit", _b(_DISPATCHED)),
    Rule(
        "orders.dispatched_on_time",
        "work_order",
        "unit",
        _b(f"{_DISPATCHED} AND r.dispatched_at <= r.received_at + {DISPATCH_LIMIT}"),
    ),
    Rule(
        "orders.dispatched_precisely", "work_order", "unit", _b(f"{_DISPATCHED} AND coalesce(r.reassignments, 0) = 0")
    ),
    Rule("orders.sent_back_to_origin", "work_order", "unit", _b("r.sent_back_to_origin")),
    Rule(
        "orders.submission_seconds",
        "work_order",
        "unit",
        _v("r.submitted_at IS NOT NULL AND r.call_ended_at IS NOT NULL", _secs("r.submitted_at", "r.call_ended_at")),
    ),
    Rule("orders.submitted", "work_order", "unit", _b("r.submitted_at IS NOT NULL AND r.call_ended_at IS NOT NULL")),
    Rule("orders.assigned", "work_order", "handling", "1"),
    Rule(
        "orders.first_contact_on_time",
        "work_order",
        "handling",
        _b(f"r.first_contact_at <= coalesce(r.dispatched_at, r.received_at) + {FIRST_CONTACT_LIMIT}"),
    ),
    Rule("orders.closed", "work_order", "handling", _b(_CLOSED)),
    Rule("orders.closed_on_time", "work_order", "handling", _b(_ON_TIME)),
    Rule("orders.with_due", "work_order", "handling", _b("r.due_at IS NOT NULL")),
    # NOT NULL is NULL: a closed order with neither a verdict nor a due time is neither on time nor late
    Rule(
        "orders.closed_late",
        "work_order",
        "handling",
        _b(f"{_CLOSED} AND NOT coalesce(r.on_time, r.closed_at <= r.due_at)"),
    ),
    Rule(
        "orders.closed_first_time",
        "work_order",
        "handling",
        _b(f"{_CLOSED} AND coalesce(r.returned_for_redo, 0) = 0 AND NOT coalesce(r.reopened, false)"),
    ),
    Rule(
        "orders.resolution_hours",
        "work_order",
        "handling",
        _v(_CLOSED, _secs("r.closed_at", "r.received_at") + " / 3600.0"),
    ),
    Rule("orders.returned_for_redo", "work_order", "handling", "coalesce(r.returned_for_redo, 0)"),
    Rule("orders.reopened", "work_order", "handling", _b("r.reopened")),
    Rule("orders.supervised", "work_order", "handling", _b("r.supervised")),
    Rule(
        "orders.supervised_resolved",
        "work_order",
        "handling",
        _b(f"r.supervised AND {_CLOSED} AND coalesce(r.resolved, true)"),
    ),
    Rule("orders.replied", "work_order", "handling", _b("r.replied_at IS NOT NULL")),
    Rule("orders.reply_complete", "work_order", "handling", _b("r.replied_at IS NOT NULL AND r.reply_complete")),
    # --- rating: the rated unit (service: serving body/agent; outcome: handling unit); day rated
    Rule("surveys.rated", "rating", "unit", "1"),
    Rule("surveys.satisfied", "rating", "unit", _b("r.rating >= 4")),
    Rule("surveys.score_sum", "rating", "unit", "r.rating"),
    Rule("surveys.service_rated", "rating", "unit", _b("r.target = 'service'")),
    Rule("surveys.service_satisfied", "rating", "unit", _b("r.target = 'service' AND r.rating >= 4")),
    Rule("surveys.outcome_rated", "rating", "unit", _b("r.target = 'outcome'")),
    Rule("surveys.outcome_satisfied", "rating", "unit", _b("r.target = 'outcome' AND r.rating >= 4")),
    Rule("surveys.dissatisfied", "rating", "unit", _b(_DISSATISFIED)),
    Rule("surveys.dissatisfied_verified", "rating", "unit", _b(f"{_DISSATISFIED} AND r.verified")),
    Rule("surveys.dissatisfied_followed_up", "rating", "unit", _b(f"{_DISSATISFIED} AND r.followed_up")),
    _reason("repeated_unhandled"),
    _reason("result_unexpected"),
    _reason("result_mismatch"),
    _reason("too_slow"),
    _reason("attitude"),
    # --- inspection: the inspected unit; day of the inspected call/order
    Rule("inspections.sampled", "inspection", "unit", "1"),
    Rule("inspections.passed", "inspection", "unit", _b("r.passed")),
    Rule("inspections.attitude_points", "inspection", "unit", "coalesce(r.attitude, 0)"),
    Rule("inspections.professionalism_points", "inspection", "unit", "coalesce(r.professionalism, 0)"),
    Rule("inspections.expression_points", "inspection", "unit", "coalesce(r.expression, 0)"),
    Rule("inspections.accuracy_points", "inspection", "unit", "coalesce(r.accuracy, 0)"),
    Rule("inspections.order_quality_points", "inspection", "unit", "coalesce(r.order_quality, 0)"),
    Rule("inspections.accurate", "inspection", "unit", _b("r.accurate")),
    Rule("inspections.recorded_within_60s", "inspection", "unit", _b("r.recorded_within_60s")),
    Rule("inspections.knowledge_errors", "inspection", "unit", _b("r.knowledge_error")),
    Rule("inspections.channel_compared", "inspection", "unit", _b("r.channel_compared")),
    Rule("inspections.channel_mismatched", "inspection", "unit", _b("r.channel_compared AND r.channel_mismatch")),
    # --- callback: the unit that owes it; day due
    Rule("callbacks.required", "callback", "unit", "1"),
    Rule("callbacks.done", "callback", "unit", _b("r.done_at IS NOT NULL")),
    # --- chat_session: the serving unit; day started
    Rule("chats.sessions", "chat_session", "unit", _b("coalesce(r.agent_served, true)")),
    Rule(
        "chats.first_response_seconds",
        "chat_session",
        "unit",
        _v("coalesce(r.agent_served, true)", "r.first_response_seconds"),
    ),
    Rule("chats.duration_seconds", "chat_session", "unit", _v("coalesce(r.agent_served, true)", "r.duration_seconds")),
    # --- smart_test: the tested body; day of the test
    Rule("smart.tests", "smart_test", "unit", "1"),
    Rule("smart.correct", "smart_test", "unit", _b("r.correct")),
    Rule("smart.response_seconds", "smart_test", "unit", "coalesce(r.response_seconds, 0)"),
    # --- knowledge_update: the hotline body; day published
    Rule("knowledge.updates", "knowledge_update", "unit", "1"),
    Rule(
        "knowledge.updates_within_24h",
        "knowledge_update",
        "unit",
        _b(f"r.entered_at <= r.published_at + {KNOWLEDGE_LIMIT}"),
    ),
    # --- reported_item
    Rule("reported.items", "reported_item", "unit", "1"),
)


# What a rule needs, in disjunctive form: a tuple of alternatives, each a set of optional fields that together
# suffice; ``(frozenset(),)`` needs nothing beyond the kind's required fields, which every batch supplies.
Needs = tuple[frozenset[str], ...]
NOTHING: Needs = (frozenset(),)
_FIELD_REFERENCE = re.compile(r"\br\.([a-z_][a-z0-9_]*)")
# Columns ingest computes itself, and the fields they are computed from: a batch that supplies those supplies them
# (``raw_call.repeat_lookback``, the look-back verdict of ``repeats``, comes from the hashed caller).
DERIVED_FROM = {"repeat_lookback": frozenset({"caller_hash"})}
_COALESCE = re.compile(r"\bcoalesce\(", re.IGNORECASE)


def _calls(sql: str) -> tuple[str, list[list[str]]]:
    """``sql`` without its outermost ``coalesce(…)`` calls, and each call's arguments (split at its own commas)."""
    rest, calls, position = [], [], 0
    while match := _COALESCE.search(sql, position):
        rest.append(sql[position : match.start()])
        depth, start, args, i = 1, match.end(), [], match.end()
        while depth:
            char = sql[i]
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "," and depth == 1:
                args.append(sql[start:i])
                start = i + 1
            i += 1
        args.append(sql[start : i - 1])
        calls.append(args)
        position = i
    rest.append(sql[position:])
    return " ".join(rest), calls


def _minimal(alternatives) -> Needs:
    """The alternatives without those that ask for more than another one does, in a stable order."""
    unique = set(alternatives)
    kept = [a for a in unique if not any(b < a for b in unique)]
    return tuple(sorted(kept, key=lambda a: (len(a), sorted(a))))


def needs_of(sql: str, kind: str) -> Needs:
    """The optional fields of ``kind`` an SQL expression over a raw row needs to mean what it says.

    Every field it reads is needed, except: ``coalesce(a, b, …)`` is satisfied by any one of its arguments (its
    arguments' own needs are alternatives: ``coalesce(r.handle_seconds, r.talk_seconds)`` needs either), and a
    constant argument is an alternative only when it is the documented default of the field before it
    (``coalesce(r.agent_served, true)``) — a made-up default (``coalesce(r.reassignments, 0)``) is not data.
    """
    fields = {f.name: f for f in KINDS[kind].fields}
    rest, calls = _calls(sql)
    parts: list[Needs] = []
    for name in _FIELD_REFERENCE.findall(rest):
        if name in DERIVED_FROM:
            parts.append((DERIVED_FROM[name],))
            continue
        if name not in fields:
            raise ValueError(f"{kind}: an expression reads r.{name}, which is not a field of the kind")
        parts.append(NOTHING if fields[name].required else (frozenset({name}),))
    for args in calls:
        alternatives: list[frozenset[str]] = []
        for previous, arg in zip([None, *args], args, strict=False):
            if _FIELD_REFERENCE.search(arg):
                alternatives += needs_of(arg, kind)
            elif (bare := re.fullmatch(r"\s*r\.([a-z_][a-z0-9_]*)\s*", previous or "")) and (
                fields[bare.group(1)].default == arg.strip().lower()
            ):
                alternatives.append(frozenset())
        parts.append(_minimal(alternatives) if alternatives else NOTHING)
    combined = [frozenset().union(*choice) for choice in itertools.product(*parts)] if parts else [frozenset()]
    return _minimal(combined)


@functools.cache
def needs(measure: str) -> Needs:
    """The optional fields a measure's rule reads (its side's unit and its expression): see ``needs_of``."""
    rule = rule_for(measure)
    if rule is None:
        raise KeyError(measure)
    return needs_of(f"{SIDES[rule.side]} {rule.expression}", rule.kind)


def needs_met(measure: str, supplied) -> bool:
    """Whether fields ``supplied`` (a batch's) give what ``measure`` needs."""
    return any(alternative <= supplied for alternative in needs(measure))


def rules_by_kind() -> dict[str, dict[str, list[Rule]]]:
    """``{kind: {side: [rules]}}`` in catalog order."""
    out: dict[str, dict[str, list[Rule]]] = {}
    for rule in RULES:
        out.setdefault(rule.kind, {}).setdefault(rule.side, []).append(rule)
    return out


def rule_for(measure: str) -> Rule | None:
    return next((r for r in RULES if r.measure == measure), None)


def flow_measures() -> list[str]:
    """Catalog measures stored per (unit, day) — every ``sum`` measure, in catalog order."""
    return [m.code for m in measure_catalog().values() if m.aggregation is Aggregation.SUM]


def side_units(kind: str) -> list[str]:
    """The sides a kind's measures count for (work orders: receiving and handling unit)."""
    return list(rules_by_kind().get(kind, {}))


def check_rules() -> list[str]:
    """Problems with the rules against the catalog and record formats (empty when consistent)."""
    problems = []
    catalog = measure_catalog()
    produced = [r.measure for r in RULES]
    for code, measure in catalog.items():
        if measure.aggregation is Aggregation.SUM and code not in produced:
            problems.append(f"catalog measure {code} has no rule")
        if code in produced and measure.record != rule_for(code).kind:
            problems.append(f"{code}: catalog says record {measure.record}, rule uses {rule_for(code).kind}")
    for code in produced:
        if code not in catalog:
            problems.append(f"rule {code} is not in the catalog")
        if produced.count(code) > 1:
            problems.append(f"rule {code} defined twice")
    for rule in RULES:
        if rule.kind not in KINDS:
            problems.append(f"{rule.measure}: unknown record kind {rule.kind}")
    return sorted(set(problems))
