"""Reviewers: who may review (never the appellant's own unit) and optimistic concurrency."""

from __future__ import annotations

from tests.appeals.conftest import (
    DECIDE,
    REVIEWER,
    REVIEWER_2,
    TAKE,
    as_user,
    auth,
    call,
    file_appeal,
    problem_codes,
)
from tests.support import error_codes, gql


async def test_self_review_is_refused(appeals):
    # The city GD-GZ appeals its own result of the province's run (organizer GD).
    filed = await file_appeal(appeals, result="R-CITY", headers=as_user("GD-GZ", "city-filer", "unit"))
    appeal = filed["appeal"]
    assert filed["ok"] and appeal["organizerId"] == "GD"
    own_reviewer = await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER)
    assert problem_codes(own_reviewer) == ["SELF_REVIEW"]
    # The filer, even as a reviewer of the organizer's unit, does not review its own appeal.
    filer = as_user("GD", "city-filer", "reviewer")
    assert problem_codes(await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, filer)) == [
        "SELF_REVIEW"
    ]
    assert (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, auth("GD", "reviewer")))["ok"]


async def test_only_reviewers_of_the_organizer_review(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    variables = {"id": appeal["id"], "v": appeal["version"]}
    assert problem_codes(await call(appeals, TAKE, variables, auth("GD-GZ", "organizer"))) == ["FORBIDDEN_ROLE"]
    # The province sees the appeal but is not the deciding unit until it is escalated to it.
    assert problem_codes(await call(appeals, TAKE, variables, auth("GD", "reviewer"))) == ["NOT_DECIDING_UNIT"]
    # A reviewer of another city does not even see it.
    assert problem_codes(await call(appeals, TAKE, variables, auth("GD-SZ", "reviewer"))) == ["NOT_FOUND"]


async def test_two_reviewers_deciding_at_once_one_gets_conflict(appeals, scoring):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    # Both reviewers read the appeal at the same version and decide differently.
    seen = taken["version"]
    first = await call(
        appeals, DECIDE, {"id": appeal["id"], "v": seen, "o": "UPHELD", "reason": "proved", "up": []}, REVIEWER
    )
    assert first["ok"]
    second = await gql(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": seen, "o": "REJECTED", "reason": "not proved", "up": []},
        headers=REVIEWER_2,
    )
    assert error_codes(second) == ["CONFLICT"]
    error = second["errors"][0]
    assert "version" in error["message"] and error["extensions"]["current_version"] == seen + 1
    # The winner's decision stands, once: one revision, one decision.
    check = await gql(
        appeals,
        "query($id: ID!) { appeal(id: $id) { outcome decisions { decidedBy } } }",
        {"id": appeal["id"]},
        headers=REVIEWER,
    )
    assert check["data"]["appeal"] == {"outcome": "UPHELD", "decisions": [{"decidedBy": "reviewer-li"}]}
    assert len(scoring.revisions) == 1


async def test_two_reviewers_taking_at_once_one_gets_conflict(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    variables = {"id": appeal["id"], "v": appeal["version"]}
    assert (await call(appeals, TAKE, variables, REVIEWER))["ok"]
    assert error_codes(await gql(appeals, TAKE, variables, headers=REVIEWER_2)) == ["CONFLICT"]
