"""The daily measures: one wide row per (unit, day)."""

from __future__ import annotations

import types
from datetime import date
from typing import Any

from sqlalchemy import Column, Date, Float, Text, text
from sqlmodel import Field

from services.ingest.models.base import IngestModel

# The daily measures' columns, one per catalog ``sum`` measure, as the migrations added them (by revision);
# a new measure is a new migration and a new name here.
DAILY_MEASURES: tuple[str, ...] = (
    # ingest_0002
    "calls.offered", "calls.answered", "calls.answered_within_15s", "calls.answered_within_20s", "calls.abandoned",
    "calls.answer_wait_seconds", "calls.abandon_wait_seconds", "calls.queue_seconds", "calls.ring_seconds",
    "calls.talk_seconds", "calls.handle_seconds", "calls.ivr_entered", "calls.ivr_seconds", "calls.ivr_resolved",
    "calls.inbound", "calls.outbound", "calls.transferred", "calls.resolved_first_contact", "calls.repeat",
    "calls.complaints", "orders.received", "orders.received_mobile", "orders.mobile_responded_on_time",
    "orders.handled_directly", "orders.direct_reopened", "orders.dispatched", "orders.dispatched_on_time",
    "orders.dispatched_precisely", "orders.sent_back_to_origin", "orders.submission_seconds", "orders.submitted",
    "orders.assigned", "orders.first_contact_on_time", "orders.closed", "orders.closed_on_time",
    "orders.closed_first_time", "orders.resolution_hours", "orders.returned_for_redo", "orders.reopened",
    "orders.supervised", "orders.supervised_resolved", "orders.replied", "orders.reply_complete", "surveys.rated",
    "surveys.satisfied", "surveys.score_sum", "surveys.service_rated", "surveys.service_satisfied",
    "surveys.outcome_rated", "surveys.outcome_satisfied", "surveys.dissatisfied", "surveys.dissatisfied_verified",
    "surveys.dissatisfied_followed_up", "surveys.reason.repeated_unhandled", "surveys.reason.result_unexpected",
    "surveys.reason.result_mismatch", "surveys.reason.too_slow", "surveys.reason.attitude", "inspections.sampled",
    "inspections.passed", "inspections.attitude_points", "inspections.professionalism_points",
    "inspections.expression_points", "inspections.accuracy_points", "inspections.order_quality_points",
    "inspections.accurate", "inspections.recorded_within_60s", "inspections.knowledge_errors", "callbacks.required",
    "callbacks.done", "chats.sessions", "chats.first_response_seconds", "chats.duration_seconds", "smart.tests",
    "smart.correct", "smart.response_seconds", "knowledge.updates", "knowledge.updates_within_24h",
    "reported.items",
    # ingest_0003
    "inspections.channel_compared", "inspections.channel_mismatched",
    # ingest_0009
    "orders.with_due", "orders.closed_late",
)  # fmt: skip


def measure_attribute(measure: str) -> str:
    """The attribute of ``DailyMeasure`` holding a measure's column (``calls.offered`` → ``calls__offered``)."""
    return measure.replace(".", "__")


def _daily_measure_body(namespace: dict[str, Any]) -> None:
    annotations: dict[str, Any] = {"unit_id": str, "day": date}
    namespace["__doc__"] = (
        "The daily measures of one unit on one day: one wide row, one double-precision column per catalog ``sum``"
        ' measure (named as the measure: ``"calls.offered"``; attribute ``calls__offered``), summed over the unit'
        " and its descendants. Written by set-based SQL (``aggregation.py``), read by the measures API."
    )
    namespace["__tablename__"] = "daily_measure"
    namespace["unit_id"] = Field(primary_key=True, sa_type=Text)
    namespace["day"] = Field(primary_key=True, sa_type=Date)
    for measure in DAILY_MEASURES:
        attribute = measure_attribute(measure)
        annotations[attribute] = float
        namespace[attribute] = Field(
            default=0.0, sa_column=Column(measure, Float, nullable=False, server_default=text("0"))
        )
    namespace["__annotations__"] = annotations


# Built from the list (eighty-odd identical columns); a table class like the others.
DailyMeasure = types.new_class("DailyMeasure", (IngestModel,), {"table": True}, _daily_measure_body)
DailyMeasure.__module__ = __name__
