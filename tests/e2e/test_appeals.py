"""End-to-end through the gateway: a unit files an appeal with evidence, a reviewer upholds part of it, the
run gets a new revision with the expected score change, and the unit sees the decision, the old and new
scores and every step — joined with ingest's Unit in one query."""

from __future__ import annotations

import base64

import pytest

from hotline.kit.auth import mint_token
from tests.support import TEST_SECRET, data_of, gql


def user(unit_id: str, subject: str, role: str) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_token(secret=TEST_SECRET, unit_id=unit_id, roles=[role], subject=subject)}


UNIT = user("GZ-HOUSING", "housing-clerk", "unit")
REVIEWER = user("GD-GZ", "gz-reviewer", "reviewer")
PAYLOAD = "{ ok problems { code message } appeal { id version status } }"


async def test_an_appeal_from_filing_to_revision_through_the_gateway(gateway, scoring_stand_in):
    if scoring_stand_in is None:
        pytest.fail("scoring runs in the stack now: file against a real published run here (contracts §6)")
    filed = data_of(
        await gql(
            gateway,
            """mutation { fileAppeal(resultId: "R-HOUSING",
        indicators: ["on_time_closure_rate", "answer_rate"], reasonCategory: WRONG_DATA,
        reason: "两张工单按时办结却被计为超期", evidenceRecords: [{source: "gz-orders", recordId: "WO-1001"}],
        asks: [{indicator: "on_time_closure_rate", kind: EXCLUDE_RECORDS,
                records: [{source: "gz-orders", recordId: "WO-1001"}, {source: "gz-orders", recordId: "WO-1002"}]},
               {indicator: "answer_rate", kind: CORRECT_VALUE, value: 95}]) """
            + PAYLOAD
            + " }",
            headers=UNIT,
        )
    )
    appeal = filed["fileAppeal"]["appeal"]
    assert filed["fileAppeal"]["ok"], filed
    attach = (
        """mutation($id: ID!, $v: Int!, $c: String!) { addEvidenceFile(id: $id, expectedVersion: $v,
        filename: "closure-log.pdf", contentBase64: $c) """
        + PAYLOAD
        + " }"
    )
    pdf = base64.b64encode(b"%PDF-1.4\n% closure log\n%%EOF\n").decode()
    appeal = data_of(await gql(gateway, attach, {"id": appeal["id"], "v": appeal["version"], "c": pdf}, headers=UNIT))[
        "addEvidenceFile"
    ]["appeal"]
    step = "mutation($id: ID!, $v: Int!) { %s(id: $id, expectedVersion: $v) " + PAYLOAD + " }"
    appeal = data_of(
        await gql(gateway, step % "submitAppeal", {"id": appeal["id"], "v": appeal["version"]}, headers=UNIT)
    )["submitAppeal"]["appeal"]
    appeal = data_of(
        await gql(gateway, step % "takeAppeal", {"id": appeal["id"], "v": appeal["version"]}, headers=REVIEWER)
    )["takeAppeal"]["appeal"]
    decide = """mutation($id: ID!, $v: Int!) { decideAppeal(id: $id, expectedVersion: $v, outcome: PARTLY_UPHELD,
        reason: "WO-1001 and WO-1002 were closed on time", upheldIndicators: ["on_time_closure_rate"]) """
    decided = data_of(
        await gql(gateway, decide + PAYLOAD + " }", {"id": appeal["id"], "v": appeal["version"]}, headers=REVIEWER)
    )["decideAppeal"]
    assert decided["ok"] and decided["appeal"]["status"] == "DECIDED", decided
    # Scoring got exactly the upheld adjustment and made revision 2.
    [revision] = scoring_stand_in.fake.revisions
    assert revision["acting"] == "GD-GZ" and [a["indicator"] for a in revision["adjustments"]] == [
        "on_time_closure_rate"
    ]
    # The unit sees its decision, old and new scores, and the whole record — joined with ingest's Unit.
    seen = data_of(
        await gql(
            gateway,
            """{ unit(id: "GZ-HOUSING") { nameZh appeals { status outcome
        evidenceFiles { mediaType } decisions { outcome reason totalBefore totalAfter newRevision
          indicatorChanges { indicator scoreBefore scoreAfter } }
        events { kind actorUnitId } } } }""",
            headers=UNIT,
        )
    )["unit"]
    assert seen["nameZh"] == "广州市住房和城乡建设局"
    [mine] = seen["appeals"]
    assert mine["outcome"] == "PARTLY_UPHELD" and mine["evidenceFiles"] == [{"mediaType": "application/pdf"}]
    [decision] = mine["decisions"]
    assert (decision["totalBefore"], decision["totalAfter"], decision["newRevision"]) == (80.0, 81.5, 2)
    assert decision["indicatorChanges"] == [
        {"indicator": "on_time_closure_rate", "scoreBefore": 6.0, "scoreAfter": 7.5}
    ]
    assert [e["kind"] for e in mine["events"]] == [
        "filed",
        "evidence_added",
        "submitted",
        "assigned",
        "decided",
        "revision_applied",
    ]
    # Another unit of the same city sees none of it, through the same path.
    other = data_of(await gql(gateway, '{ unit(id: "GZ-HOUSING") { id } }', headers=user("GZ-WATER", "w", "unit")))
    assert other["unit"] is None
