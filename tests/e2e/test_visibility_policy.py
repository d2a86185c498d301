"""The visibility policy through the real gateway (issue 15; docs/security.md, "The visibility policy").

Two published runs of Shenzhen's agents, stored with scoring's own code on the demo's units, their scheme
versions held by indicators: team 2's ranking is public, team 1's is not. A unit of team 2 sees its peers —
identity and results — by every path alike; a unit of team 1 sees no peer by any path; a peer's own answer
is never nulled by what it may not see; a viewer of the organizing side reads the runs' schemes.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.policy_data import ME, PEER, PRIVATE_ME, PRIVATE_PEER
from tests.support import auth, gql

PUBLIC = {"SZ-T2-A001", "SZ-T2-A002", "SZ-T2-A003", "SZ-T2-A004"}


def no_errors(answer: dict) -> dict:
    assert "errors" not in answer, answer["errors"]
    assert answer["data"] is not None
    return answer["data"]


RANKING = """query($id: ID!) { run(id: $id) { id schemeCode ranking { unitId total rank
  result { id total unit { id nameZh kind } } } } }"""


async def test_a_peer_in_a_public_ranking_never_nulls_the_callers_run(gateway, policy_runs):
    """Issue 15: the unit asking `ranking { result { unit { nameZh } } }` got `run: null` (ingest hid the peers'
    `Unit`, `Unit.nameZh` is non-null). Now the peers' identity is granted and nothing is nulled."""
    answer = await gql(gateway, RANKING, {"id": policy_runs["public"]["run"]}, headers=auth(ME, "unit"))
    run = no_errors(answer)["run"]
    ranking = {e["unitId"]: e for e in run["ranking"]}
    assert set(ranking) == PUBLIC
    assert ranking[ME]["total"] == 80.95 and ranking[ME]["rank"] == 2
    for unit_id, entry in ranking.items():
        assert entry["result"]["unit"]["id"] == unit_id and entry["result"]["unit"]["nameZh"]
        assert entry["result"]["unit"]["kind"] == "AGENT"


PATHS = """query($unit: ID!, $result: ID!) {
  unit(id: $unit) { id nameZh nameEn kind results { id total } }
  unitResult(id: $result) { id unitId total rank indicators { indicator score } }
}"""


async def result_ids(gateway, run_id: str) -> dict[str, str]:
    """The results' ids, as the organizer's side reads them."""
    query = "query($id: ID!) { run(id: $id) { ranking { unitId result { id } } } }"
    answer = await gql(gateway, query, {"id": run_id}, headers=auth("GD-SZ", "organizer"))
    return {e["unitId"]: e["result"]["id"] for e in no_errors(answer)["run"]["ranking"]}


async def test_a_public_peer_looks_the_same_by_every_path(gateway, stack, policy_runs):
    """Issue 15: `ranking[].result` showed a peer's details while `unitResult(id)`, `unit(id)` and
    `GET /results/{id}` answered null / 404. Now every path shows what the ranking shows."""
    ids = await result_ids(gateway, policy_runs["public"]["run"])
    headers = auth(ME, "unit")
    ranking = no_errors(await gql(gateway, RANKING, {"id": policy_runs["public"]["run"]}, headers=headers))["run"][
        "ranking"
    ]
    peer_entry = next(e for e in ranking if e["unitId"] == PEER)
    data = no_errors(await gql(gateway, PATHS, {"unit": PEER, "result": ids[PEER]}, headers=headers))
    assert data["unit"]["id"] == PEER and data["unit"]["nameZh"] == peer_entry["result"]["unit"]["nameZh"]
    assert data["unit"]["results"] == [{"id": ids[PEER], "total": peer_entry["total"]}]
    assert data["unitResult"]["unitId"] == PEER and data["unitResult"]["total"] == peer_entry["total"]
    assert data["unitResult"]["rank"] == peer_entry["rank"] and len(data["unitResult"]["indicators"]) == 5
    # The Unit entity, as the gateway asks ingest for it.
    entities = await gql(
        gateway, 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Unit { id nameZh } } }',
        {"r": [{"__typename": "Unit", "id": PEER}]}, headers=headers,
    )  # fmt: skip
    if "errors" not in entities:  # the gateway may refuse `_entities` from a client; then ingest's own answer
        assert entities["data"]["_entities"] == [{"id": PEER, "nameZh": data["unit"]["nameZh"]}]
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as ingest:
        direct = (await ingest.post("/graphql", json={
            "query": 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Unit { id nameZh } } }',
            "variables": {"r": [{"__typename": "Unit", "id": PEER}]}}, headers=headers)).json()  # fmt: skip
    assert direct["data"]["_entities"] == [{"id": PEER, "nameZh": data["unit"]["nameZh"]}]
    # REST, as a portal reads a result.
    async with httpx.AsyncClient(base_url=stack.service_url("scoring"), timeout=30) as scoring:
        rest = await scoring.get(f"/results/{ids[PEER]}", headers=headers)
    assert rest.status_code == 200 and rest.json()["unit"] == PEER


async def test_a_peer_shows_its_identity_only(gateway, policy_runs):
    """What the policy does not grant of a peer (its subtree, history, path) is refused at that field."""
    query = "query($id: ID!) { unit(id: $id) { id history { change } } }"
    answer = await gql(gateway, query, {"id": PEER}, headers=auth(ME, "unit"))
    assert answer["data"] == {"unit": None}
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["NOT_VISIBLE"]


async def test_peers_in_a_private_ranking_look_nonexistent_everywhere(gateway, stack, policy_runs):
    ids = await result_ids(gateway, policy_runs["private"]["run"])
    headers = auth(PRIVATE_ME, "unit")
    run = no_errors(await gql(gateway, RANKING, {"id": policy_runs["private"]["run"]}, headers=headers))["run"]
    assert run["ranking"] == []  # no ranking to read: its own result is read as a result
    peer = no_errors(await gql(gateway, PATHS, {"unit": PRIVATE_PEER, "result": ids[PRIVATE_PEER]}, headers=headers))
    unknown = no_errors(await gql(gateway, PATHS, {"unit": "SZ-T1-A999", "result": str(uuid.uuid4())}, headers=headers))
    assert peer == unknown == {"unit": None, "unitResult": None}
    async with httpx.AsyncClient(base_url=stack.service_url("scoring"), timeout=30) as scoring:
        rest = await scoring.get(f"/results/{ids[PRIVATE_PEER]}", headers=headers)
        missing = await scoring.get(f"/results/{uuid.uuid4()}", headers=headers)
    assert rest.status_code == missing.status_code == 404
    # And a unit of the public run is no peer of the private one's units (nor they of it).
    other = no_errors(
        await gql(gateway, PATHS, {"unit": PRIVATE_ME, "result": ids[PRIVATE_ME]}, headers=auth(ME, "unit"))
    )
    assert other == {"unit": None, "unitResult": None}


RUNS = "{ runs(first: 50) { edges { node { id schemeCode scheme { id code status } } } } }"


@pytest.mark.parametrize("role", ["viewer", "reviewer", "expert", "organizer"])
async def test_whoever_sees_a_run_reads_its_scheme(gateway, policy_runs, role):
    """Issue 15: a viewer's `runs { id scheme { code } }` was `data: null` (scoring showed the run, indicators
    refused viewers the scheme, `EvaluationRun.scheme` was non-null)."""
    answer = await gql(gateway, RUNS, headers=auth("GD-SZ", role))
    ours = {policy_runs[w]["run"] for w in ("public", "private")}
    edges = answer["data"]["runs"]["edges"]
    for error in answer.get("errors", []):
        # Runs other tests store with scoring's code alone, on schemes indicators does not hold: their scheme is
        # null (with the gateway's error) and nothing else is.
        assert error["path"][:2] == ["runs", "edges"] and error["path"][3:5] == ["node", "scheme"], error
        assert edges[error["path"][2]]["node"]["id"] not in ours and edges[error["path"][2]]["node"]["scheme"] is None
    nodes = {e["node"]["id"]: e["node"] for e in edges}
    for which in ("public", "private"):
        node = nodes[policy_runs[which]["run"]]
        assert node["scheme"] == {"id": policy_runs[which]["scheme"], "code": node["schemeCode"], "status": "PUBLISHED"}


async def test_a_unit_of_the_cohort_reads_its_runs_scheme(gateway, policy_runs):
    answer = await gql(gateway, RUNS, headers=auth(ME, "unit"))
    nodes = {e["node"]["id"]: e["node"] for e in no_errors(answer)["runs"]["edges"]}
    assert nodes[policy_runs["public"]["run"]]["scheme"]["id"] == policy_runs["public"]["scheme"]
    assert policy_runs["private"]["run"] not in nodes


NEIGHBOURS = "query($id: ID!) { unitResult(id: $id) { unitId rankOverlaps tiedOnDisplayWith } }"


async def test_a_private_rankings_neighbours_are_not_named_to_a_unit(gateway, policy_runs):
    """Issue 15: peers' ids appeared in `rankOverlaps` while `unit(id)` of the same ids was null. In a private
    ranking a unit's result names no neighbour it may not see; the organizer's side sees them all; in a public
    ranking the neighbours are public peers, named alike."""
    for which, me in (("private", PRIVATE_ME), ("public", ME)):
        ids = await result_ids(gateway, policy_runs[which]["run"])
        variables = {"id": ids[me]}
        organizer = no_errors(await gql(gateway, NEIGHBOURS, variables, headers=auth("GD-SZ", "organizer")))
        named = set(organizer["unitResult"]["rankOverlaps"]) | set(organizer["unitResult"]["tiedOnDisplayWith"])
        assert named - {me}, organizer  # the example's totals overlap: there are neighbours to name
        own = no_errors(await gql(gateway, NEIGHBOURS, variables, headers=auth(me, "unit")))["unitResult"]
        if which == "private":
            assert own == {"unitId": me, "rankOverlaps": [], "tiedOnDisplayWith": []}
        else:
            assert own == organizer["unitResult"]
