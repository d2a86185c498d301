"""Filing: the window (before publication, inside, after), whose result, limits, drafts and withdrawal."""

from __future__ import annotations

from tests.appeals.conftest import (
    OTHER_UNIT,
    REVIEWER,
    SUBMIT,
    TAKE,
    UNIT,
    WITHDRAW,
    auth,
    call,
    file_appeal,
    problem_codes,
)
from tests.support import gql


async def test_inside_the_window_a_unit_files_against_its_own_result(appeals, clock):
    clock.advance(days=5, hours=23)  # 6 days 23 h after publication: still inside the 7 days
    filed = await file_appeal(appeals)
    assert filed["ok"] and filed["appeal"]["status"] == "SUBMITTED"


async def test_after_the_window_filing_and_submitting_are_refused(appeals, clock):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    clock.advance(days=6)  # exactly 7 days after publication: closed
    late = await file_appeal(appeals)
    assert problem_codes(late) == ["WINDOW_CLOSED"] and late["appeal"] is None
    assert "2026-03-09T00:00:00+00:00" in late["problems"][0]["message"]
    submitted = await call(appeals, SUBMIT, {"id": draft["id"], "v": draft["version"]}, UNIT)
    assert problem_codes(submitted) == ["WINDOW_CLOSED"] and submitted["appeal"]["status"] == "DRAFT"


async def test_before_publication_filing_is_refused(appeals):
    refused = await file_appeal(appeals, result="R-UNPUBLISHED")
    assert problem_codes(refused) == ["NOT_PUBLISHED"]


async def test_another_units_result_is_refused_with_a_reason_or_is_not_found(appeals):
    # GD-GZ (a city body, role unit) can see its undertaking unit's result, but it is not its own.
    city = await file_appeal(appeals, headers=auth("GD-GZ", "unit"))
    assert problem_codes(city) == ["WRONG_UNIT"] and "GZ-HOUSING" in city["problems"][0]["message"]
    # Outside its scope a result looks exactly like one that does not exist.
    foreign = await file_appeal(appeals, headers=OTHER_UNIT)
    missing = await file_appeal(appeals, result="R-NOWHERE", headers=OTHER_UNIT)
    assert problem_codes(foreign) == problem_codes(missing) == ["NOT_FOUND"]
    # Only role unit files.
    assert problem_codes(await file_appeal(appeals, headers=auth("GZ-HOUSING", "viewer"))) == ["FORBIDDEN_ROLE"]


async def test_scheme_limits_appeals_per_result_and_indicators_per_appeal(appeals):
    too_many = await file_appeal(appeals, indicators=["on_time_closure_rate", "answer_rate", "innovation"])
    assert problem_codes(too_many) == ["TOO_MANY_INDICATORS"]
    unknown = await file_appeal(appeals, indicators=["no_such_indicator"], asks=[])
    assert problem_codes(unknown) == ["UNKNOWN_INDICATOR"]
    first = (await file_appeal(appeals))["appeal"]
    assert (await file_appeal(appeals))["ok"]
    assert problem_codes(await file_appeal(appeals)) == ["TOO_MANY_APPEALS"]
    # A withdrawn appeal frees its place.
    assert (await call(appeals, WITHDRAW, {"id": first["id"], "v": first["version"]}, UNIT))["ok"]
    assert (await file_appeal(appeals))["ok"]


async def test_asks_must_fit_the_disputed_indicators(appeals):
    asks = [
        {"indicator": "innovation", "kind": "RESCORE_EXPERT_ITEM", "value": 4.5},
        {"indicator": "answer_rate", "kind": "EXCLUDE_RECORDS"},
        {"indicator": "answer_rate", "kind": "CORRECT_VALUE"},
    ]
    refused = await file_appeal(appeals, indicators=["answer_rate"], asks=asks)
    assert problem_codes(refused) == ["ASK_OUTSIDE_APPEAL", "NO_RECORDS", "NO_VALUE"]
    assert [p["field"] for p in refused["problems"]] == ["asks[0]", "asks[1]", "asks[2]"]
    assert [p["path"] for p in refused["problems"]] == ["asks[0]", "asks[1]", "asks[2]"]  # one shape: `path`


EDIT = (
    "mutation($id: ID!, $v: Int!, $reason: String) { editAppeal(id: $id, expectedVersion: $v, reason: $reason,"
    " reasonCategory: FORCE_MAJEURE) { ok problems { code } appeal { version reason reasonCategory events { kind } } } }"
)


async def test_a_draft_is_edited_until_submitted(appeals):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    assert draft["status"] == "DRAFT"
    edited = await gql(appeals, EDIT, {"id": draft["id"], "v": draft["version"], "reason": "typhoon"}, headers=UNIT)
    edited = edited["data"]["editAppeal"]
    assert edited["ok"] and edited["appeal"]["reason"] == "typhoon"
    assert edited["appeal"]["reasonCategory"] == "FORCE_MAJEURE"
    submitted = await call(appeals, SUBMIT, {"id": draft["id"], "v": edited["appeal"]["version"]}, UNIT)
    assert submitted["ok"] and submitted["appeal"]["decisionDueAt"].startswith("2026-03-13")
    again = await gql(
        appeals, EDIT, {"id": draft["id"], "v": submitted["appeal"]["version"], "reason": "x"}, headers=UNIT
    )
    assert [p["code"] for p in again["data"]["editAppeal"]["problems"]] == ["INVALID_TRANSITION"]
    kinds = [e["kind"] for e in submitted["appeal"]["events"]]
    assert kinds == ["filed", "edited", "submitted"]


async def test_withdrawal_until_decided_and_only_by_the_appellant(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    assert problem_codes(await call(appeals, WITHDRAW, {"id": appeal["id"], "v": taken["version"]}, REVIEWER)) == [
        "FORBIDDEN_ROLE"
    ]
    withdrawn = await call(appeals, WITHDRAW, {"id": appeal["id"], "v": taken["version"]}, UNIT)
    assert withdrawn["ok"] and withdrawn["appeal"]["status"] == "WITHDRAWN"
    assert withdrawn["appeal"]["events"][-1]["data"] == {"reason": "settled with the organizer"}
    again = await call(appeals, WITHDRAW, {"id": appeal["id"], "v": withdrawn["appeal"]["version"]}, UNIT)
    assert problem_codes(again) == ["INVALID_TRANSITION"]


async def test_a_decided_appeal_cannot_be_withdrawn(appeals):
    from tests.appeals.conftest import DECIDE

    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = (
        await call(
            appeals,
            DECIDE,
            {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "no", "up": []},
            REVIEWER,
        )
    )["appeal"]
    refused = await call(appeals, WITHDRAW, {"id": appeal["id"], "v": decided["version"]}, UNIT)
    assert problem_codes(refused) == ["INVALID_TRANSITION"] and refused["appeal"]["status"] == "DECIDED"


async def test_records_need_a_source_and_an_id(appeals):
    asks = [{"indicator": "answer_rate", "kind": "EXCLUDE_RECORDS", "records": [{"source": " ", "recordId": "WO-1"}]}]
    refused = await file_appeal(appeals, indicators=["answer_rate"], asks=asks)
    assert problem_codes(refused) == ["BAD_RECORD"] and refused["problems"][0]["field"] == "asks[0].records[0]"
