"""Canonical record formats (DOMAIN §2): the fields of every raw record type, as data.

One ``RecordKind`` per type. The same description drives validation (``validation.py``), the raw
tables (migration 0002), the JSON Schema and CSV header published at ``GET /records/formats`` and the
measure rules (``rules.py``). Every record names its unit (``unit_id``) and its source system's own
id (``source`` + ``record_id``, the natural key used for de-duplication).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Field types: text, int, float (non-negative durations/scores), bool, timestamp (timestamptz),
# enum (one of `values`), enum_list (a set of `values`; in CSV separated by `;` or `|`).
SQL_TYPES = {
    "text": "text",
    "int": "integer",
    "float": "double precision",
    "bool": "boolean",
    "timestamp": "timestamptz",
    "enum": "text",
    "enum_list": "text[]",
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    description: str
    required: bool = False
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # what an empty value means, as an SQL literal, where the format documents it (``agent_served``: true); a rule
    # that reads the field through ``coalesce(r.<field>, <this literal>)`` does not need the field supplied
    default: str | None = None


@dataclass(frozen=True, slots=True)
class RecordKind:
    name: str
    name_zh: str
    description: str
    day_field: str  # the timestamp whose local date the record's measures count on
    fields: tuple[Field, ...] = field(default=())
    # columns of the raw table that ingest computes itself (not part of the canonical format, never compared by
    # de-duplication), kept with the row wherever it is copied
    derived_columns: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"raw_{self.name}"

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _common(what: str) -> tuple[Field, ...]:
    return (
        Field(
            "source",
            "text",
            "Source system that sent the record (e.g. `gz-12345-acd`); with `record_id` the natural key.",
            True,
        ),
        Field("record_id", "text", f"The source system's own id of the {what}.", True),
        Field(
            "unit_id", "text", "Unit the record belongs to (see the attribution rules in docs/contracts.md §4).", True
        ),
    )


def _seconds(name: str, description: str, required: bool = False) -> Field:
    return Field(name, "float", description, required, minimum=0)


def _flag(name: str, description: str, default: str | None = None) -> Field:
    return Field(name, "bool", description, default=default)


def _points(name: str, description: str) -> Field:
    return Field(name, "float", description + " (0–100)", minimum=0, maximum=100)


CHANNELS = (
    "phone", "sms", "web", "app", "mini_program", "mobile_other", "email", "leader_mailbox",
    "national_platform", "provincial_platform", "emergency_transfer", "department_hotline",
    "message_board", "other",
)  # fmt: skip
MOBILE_CHANNELS = ("app", "mini_program", "mobile_other")
DISSATISFACTION_REASONS = ("repeated_unhandled", "result_unexpected", "result_mismatch", "too_slow", "attitude")

CALL = RecordKind(
    "call",
    "话务",
    "One call handled by a hotline body (agent, agent team or body as `unit_id`).",
    "started_at",
    (
        *_common("call"),
        Field("started_at", "timestamp", "When the call began (entered the system / was dialled).", True),
        Field("direction", "enum", "inbound (呼入) or outbound (呼出).", True, ("inbound", "outbound")),
        Field(
            "outcome",
            "enum",
            "answered (by an agent), abandoned (hung up while queued for an agent), ivr_resolved (served by the "
            "IVR without asking for an agent), phantom (virtual/test call, ignored). Outbound calls: answered or abandoned.",
            True,
            ("answered", "abandoned", "ivr_resolved", "phantom"),
        ),
        _seconds("ivr_seconds", "Seconds in the IVR self-service menu; empty if the call never entered the IVR."),
        _seconds("queue_seconds", "Seconds waiting for an agent (answered or abandoned calls)."),
        _seconds("ring_seconds", "Seconds the agent's phone rang before pick-up."),
        _seconds("talk_seconds", "Talk seconds of an answered call."),
        _seconds("handle_seconds", "Talk + hold + after-call work seconds; defaults to talk_seconds."),
        Field("answered_at", "timestamp", "When an agent answered."),
        Field("ended_at", "timestamp", "When the call ended."),
        _flag("transferred", "Transferred to another agent or line."),
        _flag("resolved_first_contact", "Resolved at the first contact (FCR)."),
        _flag(
            "repeat_caller",
            "The caller had called the same hotline body in the previous 7 days, as the source judged it; when "
            "empty, ingest judges it from `caller_hash` (docs/contracts.md §7).",
        ),
        _flag("complaint", "A complaint about the hotline's own service."),
        Field(
            "caller_hash",
            "text",
            "Hashed caller number (never the number itself); the same number must give the same hash in every batch.",
        ),
        Field(
            "work_order_id", "text", "record_id of the work order the call created, if any (same source system family)."
        ),
    ),
    derived_columns=("repeat_lookback",),
)

WORK_ORDER = RecordKind(
    "work_order",
    "工单",
    "A citizen request registered by a hotline body (`unit_id`, the receiving side) and possibly dispatched to "
    "an undertaking unit (`handling_unit_id`, the handling side).",
    "received_at",
    (
        *_common("work order"),
        Field("received_at", "timestamp", "When the request was registered (受理时间).", True),
        Field("channel", "enum", "Intake channel (受理渠道).", True, CHANNELS),
        Field("category", "text", "Category of the request, as the source names it."),
        _flag(
            "handled_directly",
            "Resolved by the hotline body itself without dispatch (直办); empty: not handled directly.",
            default="false",
        ),
        Field(
            "handling_unit_id",
            "text",
            "Undertaking unit the order was dispatched to (承办单位); empty if handled directly.",
        ),
        Field("dispatched_at", "timestamp", "When it was dispatched to the handling unit."),
        Field("reassignments", "int", "Times it was re-dispatched to another unit (改派).", minimum=0),
        _flag(
            "sent_back_to_origin",
            "An integrated department hotline's request still sent back to the original department.",
        ),
        Field("call_ended_at", "timestamp", "End of the call that produced the order."),
        Field("submitted_at", "timestamp", "When the agent submitted the order."),
        Field("first_response_at", "timestamp", "First answer to a mobile-channel request."),
        Field("first_contact_at", "timestamp", "When the handling unit first contacted the caller (先行联系)."),
        Field("due_at", "timestamp", "Deadline for closure (办理时限)."),
        Field("replied_at", "timestamp", "When the handling unit replied (答复)."),
        _flag("reply_complete", "The reply was judged complete (answers every point)."),
        Field("closed_at", "timestamp", "When the order was closed (办结)."),
        Field("on_time", "bool", "The source's own on-time verdict; if empty, closed_at ≤ due_at decides."),
        Field(
            "returned_for_redo", "int", "Times the hotline returned the unit's reply for redo (退回重办).", minimum=0
        ),
        _flag("supervised", "Put under supervision (督办)."),
        _flag("resolved", "Closed as resolved (for supervised orders; default: true when closed).", default="true"),
        _flag("reopened", "Reopened after closure (重启)."),
        Field("status", "enum", "Lifecycle status.", False, ("open", "dispatched", "replied", "closed")),
    ),
)

RATING = RecordKind(
    "rating",
    "满意度评价",
    "A satisfaction rating of the hotline's service (the serving body or agent as `unit_id`) or of a unit's "
    "outcome (the handling unit as `unit_id`).",
    "rated_at",
    (
        *_common("rating"),
        Field("rated_at", "timestamp", "When the rating was given.", True),
        Field(
            "target", "enum", "service (话务服务, 6.5.1) or outcome (办理结果, 6.5.2).", True, ("service", "outcome")
        ),
        Field(
            "rating",
            "int",
            "1 very dissatisfied … 5 very satisfied; 4–5 satisfied, 1–2 dissatisfied.",
            True,
            minimum=1,
            maximum=5,
        ),
        Field("reasons", "enum_list", "Dissatisfaction reasons (spec 6.5.3).", False, DISSATISFACTION_REASONS),
        _flag("verified", "The hotline verified the dissatisfaction."),
        _flag("followed_up", "The hotline followed the dissatisfaction up."),
        Field("work_order_id", "text", "record_id of the rated work order, if any."),
        Field("call_id", "text", "record_id of the rated call, if any."),
    ),
)

INSPECTION = RecordKind(
    "inspection",
    "质检",
    "A sampled call or order scored by an inspector; `unit_id` is the inspected agent or body.",
    "inspected_at",
    (
        *_common("inspection"),
        Field("inspected_at", "timestamp", "Time of the inspected call or order (its day counts).", True),
        Field("subject", "enum", "What was inspected.", True, ("call", "work_order")),
        Field("subject_id", "text", "record_id of the inspected call or order."),
        _points("attitude", "Attitude score"),
        _points("professionalism", "Professionalism score"),
        _points("expression", "Expression score"),
        _points("accuracy", "Answer accuracy score"),
        _points("order_quality", "Work-order quality score"),
        Field("passed", "bool", "Judged a pass.", True),
        _flag("accurate", "The answer was judged accurate."),
        _flag("recorded_within_60s", "The request was recorded clearly within one minute."),
        _flag("knowledge_error", "A business-knowledge error was found."),
        _flag(
            "channel_compared",
            "The answer was compared with the answers other channels (app, counter) give to the same question.",
        ),
        _flag("channel_mismatch", "That comparison found the channels' answers differ in substance."),
    ),
)

CALLBACK = RecordKind(
    "callback",
    "回访",
    "A callback owed by `unit_id` to a caller.",
    "due_at",
    (
        *_common("callback"),
        Field("due_at", "timestamp", "When the callback was due.", True),
        Field("done_at", "timestamp", "When it was made; empty if not done."),
        Field("work_order_id", "text", "record_id of the work order called back about."),
    ),
)

CHAT_SESSION = RecordKind(
    "chat_session",
    "在线客服会话",
    "An online chat session served by `unit_id`.",
    "started_at",
    (
        *_common("chat session"),
        Field("started_at", "timestamp", "When the session started.", True),
        _seconds("first_response_seconds", "Seconds to the agent's first response."),
        _seconds("duration_seconds", "Session duration in seconds."),
        Field("agent_served", "bool", "Served by a human agent (default true).", default="true"),
    ),
)

SMART_TEST = RecordKind(
    "smart_test",
    "智能客服抽查",
    "One test question put to the smart service of hotline body `unit_id`.",
    "tested_at",
    (
        *_common("test"),
        Field("tested_at", "timestamp", "When the test was made.", True),
        Field("question", "text", "The question asked."),
        Field("correct", "bool", "Answered correctly.", True),
        _seconds("response_seconds", "Seconds to the answer."),
    ),
)

KNOWLEDGE_UPDATE = RecordKind(
    "knowledge_update",
    "知识库更新",
    "A new policy that had to enter the knowledge base of `unit_id`.",
    "published_at",
    (
        *_common("update"),
        Field("published_at", "timestamp", "When the policy was published.", True),
        Field("entered_at", "timestamp", "When it entered the knowledge base; empty if not yet."),
        Field("title", "text", "Title of the policy."),
    ),
)

REPORTED_ITEM = RecordKind(
    "reported_item",
    "汇报材料",
    "A qualitative submission (innovation, emergency support …) of `unit_id` for expert scoring.",
    "submitted_at",
    (
        *_common("item"),
        Field("submitted_at", "timestamp", "When it was submitted.", True),
        Field(
            "category",
            "enum",
            "What it reports.",
            True,
            ("innovation", "emergency", "linkage", "personalised", "other"),
        ),
        Field("title", "text", "Title.", True),
        Field("summary", "text", "Short summary."),
        Field("document_url", "text", "Where the full document is kept."),
    ),
)

KINDS: dict[str, RecordKind] = {
    k.name: k
    for k in (CALL, WORK_ORDER, RATING, INSPECTION, CALLBACK, CHAT_SESSION, SMART_TEST, KNOWLEDGE_UPDATE, REPORTED_ITEM)
}

# Columns every raw table carries besides the record's own fields.
SYSTEM_COLUMNS = (("day", "date"), ("batch_id", "bigint"), ("row_no", "integer"))


def json_schema(kind: RecordKind) -> dict[str, Any]:
    """The canonical format as a JSON Schema (draft 2020-12) for NDJSON rows and API batches."""
    properties: dict[str, Any] = {}
    for f in kind.fields:
        prop: dict[str, Any] = {"description": f.description}
        if f.type in ("text", "enum"):
            prop["type"] = "string"
        elif f.type == "int":
            prop["type"] = "integer"
        elif f.type == "float":
            prop["type"] = "number"
        elif f.type == "bool":
            prop["type"] = "boolean"
        elif f.type == "timestamp":
            prop.update(type="string", format="date-time")
        elif f.type == "enum_list":
            prop.update(type="array", items={"enum": list(f.values)}, uniqueItems=True)
        if f.type == "enum":
            prop["enum"] = list(f.values)
        if f.minimum is not None:
            prop["minimum"] = f.minimum
        if f.maximum is not None:
            prop["maximum"] = f.maximum
        if not f.required:
            prop = {"anyOf": [prop, {"type": "null"}], "description": f.description}
        properties[f.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://hotline-eval/records/{kind.name}.json",
        "title": f"{kind.name} ({kind.name_zh})",
        "description": kind.description + f" Measures count on the local date of `{kind.day_field}`.",
        "type": "object",
        "properties": properties,
        "required": [f.name for f in kind.fields if f.required],
        "additionalProperties": False,
    }


def csv_header(kind: RecordKind) -> list[str]:
    """The CSV header of the canonical format (column order is free; names are not)."""
    return kind.field_names
