"""The state machine as pure code: every transition, every refusal, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.appeals import workflow as wf
from services.appeals.evidence import MAX_FILE_BYTES, check_file, sniff_type

T0 = datetime(2026, 3, 2, tzinfo=UTC)
LIMITS = wf.AppealLimits(window_days=7, max_appeals_per_result=2, max_indicators_per_appeal=2, escalation_days=5)
RESULT = wf.ResultFacts(
    result_id="R",
    run_id="RUN",
    revision=1,
    unit_id="U",
    organizer_id="ORG",
    published_at=T0,
    limits=LIMITS,
    total=80.0,
    indicator_scores={"a": 1.0, "b": 2.0, "c": 3.0},
    final=False,
)
UNIT = wf.Actor("filer", "U", frozenset({"unit"}))
REVIEWER = wf.Actor("rev", "ORG", frozenset({"reviewer"}))


def appeal(status: wf.Status, **kw) -> wf.AppealFacts:
    base = dict(
        status=status,
        unit_id="U",
        organizer_id="ORG",
        filed_by="filer",
        window_closes_at=T0 + timedelta(7),
        deciding_unit_id="ORG",
        escalation_days=5,
    )
    return wf.AppealFacts(**{**base, **kw})


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def file(now=T0 + timedelta(days=1), actor=UNIT, result=RESULT, count=0, indicators=("a",), asks=()):
    return codes(
        wf.check_filing(
            actor,
            result,
            now=now,
            appeals_on_result=count,
            indicators=indicators,
            asks=asks,
            category=wf.ReasonCategory.WRONG_DATA,
            reason="wrong",
        )
    )


def test_the_window_before_inside_and_after():
    assert file(now=T0 - timedelta(seconds=1)) == ["NOT_PUBLISHED"]
    assert file(now=T0) == []
    assert file(now=T0 + timedelta(days=7) - timedelta(microseconds=1)) == []
    assert file(now=T0 + timedelta(days=7)) == ["WINDOW_CLOSED"]
    unpublished = wf.ResultFacts(RESULT.result_id, RESULT.run_id, 1, "U", "ORG", None, LIMITS, 80.0, {"a": 1.0}, False)
    assert file(result=unpublished) == ["NOT_PUBLISHED"]


def test_who_may_file_and_the_limits():
    assert file(actor=wf.Actor("x", "OTHER", frozenset({"unit"}))) == ["WRONG_UNIT"]
    assert file(actor=wf.Actor("x", "U", frozenset({"viewer"}))) == ["FORBIDDEN_ROLE"]
    assert file(count=2) == ["TOO_MANY_APPEALS"]
    assert file(indicators=("a", "b", "c")) == ["TOO_MANY_INDICATORS"]
    assert file(indicators=()) == ["NO_INDICATOR"]
    final = wf.ResultFacts(RESULT.result_id, RESULT.run_id, 1, "U", "ORG", T0, LIMITS, 80.0, {"a": 1.0}, True)
    assert file(result=final) == ["RESULT_FINAL"]


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (wf.Action.SUBMIT, {wf.Status.DRAFT}),
        (wf.Action.ASSIGN, {wf.Status.SUBMITTED, wf.Status.ESCALATED}),
        (wf.Action.DECIDE, {wf.Status.IN_REVIEW}),
        (wf.Action.ESCALATE, {wf.Status.DECIDED}),
        (wf.Action.WITHDRAW, set(wf.Status) - {wf.Status.DECIDED, wf.Status.WITHDRAWN}),
    ],
)
def test_transitions_are_allowed_only_from_their_states(action, allowed):
    assert set(wf.TRANSITIONS[action]) == allowed
    for status in set(wf.Status) - allowed:
        assert codes(wf._transition(action, status)) == ["INVALID_TRANSITION"]


def test_reviewers_never_review_their_own_unit():
    own = appeal(wf.Status.SUBMITTED, organizer_id="U", deciding_unit_id="U")
    assert codes(wf.check_assign(wf.Actor("rev", "U", frozenset({"reviewer"})), own)) == ["SELF_REVIEW"]
    assert codes(wf.check_assign(wf.Actor("filer", "ORG", frozenset({"reviewer"})), appeal(wf.Status.SUBMITTED))) == [
        "SELF_REVIEW"
    ]
    assert codes(wf.check_assign(wf.Actor("r", "ELSE", frozenset({"reviewer"})), appeal(wf.Status.SUBMITTED))) == [
        "NOT_DECIDING_UNIT"
    ]
    assert wf.check_assign(REVIEWER, appeal(wf.Status.SUBMITTED)) == []


def test_decisions_and_their_adjustments():
    a = appeal(wf.Status.IN_REVIEW)
    asks = [
        wf.Ask("a", wf.RequestKind.EXCLUDE_RECORDS, (("src", "1"),)),
        wf.Ask("b", wf.RequestKind.CORRECT_VALUE, value=9.0),
        wf.Ask("c", wf.RequestKind.RESCORE_EXPERT_ITEM, value=4.0),
    ]
    ok = wf.check_decide(
        REVIEWER, a, outcome=wf.Outcome.PARTLY_UPHELD, reason="r", disputed=["a", "b"], upheld_indicators=["a"],
        asks=asks,
    )  # fmt: skip
    assert ok == []
    # Upholding an indicator the appeal asks nothing for would change nothing: refused (issue 17).
    nothing = wf.check_decide(
        REVIEWER, a, outcome=wf.Outcome.PARTLY_UPHELD, reason="r", disputed=["a", "b", "d"], upheld_indicators=["d"],
        asks=asks,
    )  # fmt: skip
    assert codes(nothing) == ["NOTHING_ASKED"]
    assert wf.adjustments("U", asks, {"a", "c"}) == [
        {"kind": "exclude_records", "unit": "U", "indicator": "a", "records": [{"source": "src", "record_id": "1"}]},
        {"kind": "expert_score", "unit": "U", "indicator": "c", "score": 4.0},
    ]
    for outcome, upheld in ((wf.Outcome.REJECTED, ["a"]), (wf.Outcome.UPHELD, ["a"])):
        refused = wf.check_decide(
            REVIEWER, a, outcome=outcome, reason="r", disputed=["a", "b"], upheld_indicators=upheld, asks=asks
        )
        assert codes(refused) == ["BAD_OUTCOME"]
    assert wf.upheld_of(wf.Outcome.UPHELD, ["a", "b"], []) == {"a", "b"}
    assert wf.upheld_of(wf.Outcome.REJECTED, ["a", "b"], ["a"]) == frozenset()
    # After escalation an indicator already upheld (its revision applied) cannot be taken back by upholding
    # something else; the parent may reject the escalation instead, and then the first decision stands (issue 17).
    escalated = appeal(
        wf.Status.IN_REVIEW, escalated_to="TOP", deciding_unit_id="TOP", upheld_indicators=frozenset("a")
    )
    top = wf.Actor("top", "TOP", frozenset({"reviewer"}))
    assert codes(
        wf.check_decide(
            top, escalated, outcome=wf.Outcome.PARTLY_UPHELD, reason="r", disputed=["a", "b", "c"],
            upheld_indicators=["c"], asks=asks,
        )
    ) == ["CANNOT_REVERSE"]  # fmt: skip
    assert (
        wf.check_decide(
            top,
            escalated,
            outcome=wf.Outcome.REJECTED,
            reason="r",
            disputed=["a", "b"],
            upheld_indicators=[],
            asks=asks,
        )
        == []
    )


def test_escalation_and_settlement():
    decided = appeal(wf.Status.DECIDED, decided_at=T0 + timedelta(days=2))
    now = T0 + timedelta(days=3)
    assert wf.check_escalate(UNIT, decided, now=now, parent_id="TOP") == []
    assert codes(wf.check_escalate(UNIT, decided, now=now, parent_id=None)) == ["NO_PARENT"]
    assert codes(wf.check_escalate(UNIT, decided, now=T0 + timedelta(days=7), parent_id="TOP")) == ["ESCALATION_CLOSED"]
    once = appeal(wf.Status.DECIDED, decided_at=T0, escalated_to="TOP")
    assert codes(wf.check_escalate(UNIT, once, now=now, parent_id="TOP")) == ["ALREADY_ESCALATED"]
    closes = T0 + timedelta(days=7)
    later = appeal(wf.Status.DECIDED, decided_at=T0 + timedelta(days=3))  # may be escalated until day 8
    assert not wf.run_is_final(closes, [later], now=closes)
    assert not wf.run_is_final(closes, [later], now=T0 + timedelta(days=8) - timedelta(seconds=1))
    assert wf.run_is_final(closes, [later], now=T0 + timedelta(days=8)) is True
    assert wf.run_is_final(closes, [decided], now=closes) is True  # its escalation time ended with the window
    assert not wf.run_is_final(closes, [appeal(wf.Status.IN_REVIEW)], now=closes + timedelta(days=30))
    assert wf.run_is_final(closes, [appeal(wf.Status.DRAFT), appeal(wf.Status.WITHDRAWN)], now=closes)
    assert not wf.run_is_final(closes, [], now=closes - timedelta(seconds=1))


def test_evidence_types_are_sniffed_from_content_not_names():
    assert sniff_type(b"%PDF-1.7 ...") == "application/pdf"
    assert sniff_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_type(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"
    assert sniff_type("工单号,结果\nWO-1,按时办结\n".encode()) == "text/plain"
    for refused in (b"MZ\x90\x00\x03", b"<html><script>alert(1)</script>", b"<svg onload=x>", b"PK\x03\x04garbage"):
        assert sniff_type(refused) is None
    sniffed, problems = check_file("report.pdf", b"MZ\x90\x00 an executable named .pdf", files_already=0)
    assert sniffed is None and codes(problems) == ["FILE_TYPE_REFUSED"]
    assert codes(check_file("big.txt", b"a" * (MAX_FILE_BYTES + 1), files_already=0)[1]) == ["FILE_TOO_LARGE"]
    assert codes(check_file("../etc/passwd", b"text", files_already=0)[1]) == ["BAD_FILENAME"]
    assert codes(check_file("a.txt", b"text", files_already=20)[1]) == ["TOO_MANY_FILES"]
    ok, problems = check_file("a.txt", b"text", files_already=0)
    assert problems == [] and ok.sha256 == "982d9e3eb996f559e633f4d194def3761d909f5a3b647d1a851fead67c32c9d1"


def test_office_documents_are_recognised_inside_their_zip():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    assert sniff_type(buffer.getvalue()) == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
