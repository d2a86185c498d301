"""Malformed client input through the real gateway and straight to each subgraph (issue 15, points 4 and 5):
a forged cursor on every connection and a crafted ``_entities`` representation on every subgraph answer
``BAD_REQUEST`` with a message saying what was wrong — never ``INTERNAL_SERVER_ERROR``, never a silent first
page — and the error reaches the client on the field (alias) that asked, beside the other fields' data.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_scoring_gateway import store_published_run
from tests.scoring.example import example_scheme
from tests.support import auth, error_codes, gql

ADMIN = auth("GD", "admin")
CITY = auth("GD-FS", "organizer")
# Units no other e2e test gives a result.
RUN_UNITS = {"UA": "FS-CHANCHENG", "UB": "FS-NANHAI", "UC": "FS-URBANMGMT", "UD": "FS-HRSS"}
UNIT = auth("FS-NANHAI", "unit")

# Cursors no connection gave: base64 of text of another shape, of nothing, of binary, not base64 at all.
FORGED_CURSORS = ["YWJj", "MA==", "", "!!!", "////", base64.b64encode(b"\xff\xfe").decode(), "eyJhIjoxfQ=="]


@pytest.fixture(scope="module")
async def cursor_run(stack) -> str:
    # Other units than the other e2e runs, so that every unit keeps its one result there.
    document = example_scheme(organizer="GD-FS", cohort={"units": sorted(RUN_UNITS.values())})
    return await store_published_run(stack, document, RUN_UNITS, organizer="GD-FS")


# Every connection of the supergraph that takes a cursor, as a query with `$a` for the cursor.
CONNECTIONS = {
    "units": "query($a: String) { units(first: 2, after: $a) { edges { cursor } } }",
    "unit.children": 'query($a: String) { unit(id: "GD-FS") { children(first: 2, after: $a) { totalCount } } }',
    "runs": "query($a: String) { runs(first: 2, after: $a) { edges { cursor } } }",
    "resultChanges": "query($a: String) { resultChanges(first: 2, after: $a) { cursor } }",
    "run.results": "query($a: String, $r: ID!) { run(id: $r) { results(first: 2, after: $a) { endCursor } } }",
    "appeals": "query($a: String) { appeals(first: 2, after: $a) { edges { cursor } } }",
    "appealInbox": "query($a: String) { appealInbox(first: 2, after: $a) { cursor } }",
    "appealConsequences": "query($a: String) { appealConsequences(first: 2, after: $a) { edges { cursor } } }",
}


def _bad_request_on(answer: dict, path: list) -> dict:
    """The answer's one error, which must be a BAD_REQUEST on ``path`` saying the cursor is invalid."""
    assert "INTERNAL_SERVER_ERROR" not in json.dumps(answer), answer
    errors = [e for e in answer.get("errors") or [] if e.get("path") == path]
    assert errors, answer
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST", answer
    return errors[0]


@pytest.mark.parametrize("connection", list(CONNECTIONS))
async def test_a_forged_cursor_is_a_bad_request_on_every_connection(gateway, cursor_run, connection):
    query = CONNECTIONS[connection]
    headers = UNIT if connection == "appealInbox" else CITY
    for cursor in FORGED_CURSORS:
        if connection == "resultChanges" and cursor == "MA==":
            continue  # the pre-codec cursor of change 0: still valid (test_a_pre_codec_result_changes_cursor_...)
        answer = await gql(gateway, query, {"a": cursor, "r": cursor_run}, headers=headers)
        path = connection.split(".") if "." in connection else [connection]
        error = _bad_request_on(answer, path)
        assert "invalid cursor" in error["message"], error


async def test_a_pre_codec_result_changes_cursor_still_pulls(gateway, cursor_run):
    """Provincial platforms keep their `resultChanges` cursor between pulls: one written before the codec (the
    base64 of the change number) still continues where it stood, and the answer's cursor is in the new form."""
    fresh = (await gql(gateway, CONNECTIONS["resultChanges"], headers=CITY))["data"]["resultChanges"]
    legacy = base64.urlsafe_b64encode(b"0").decode()
    assert legacy == "MA=="
    answer = (await gql(gateway, CONNECTIONS["resultChanges"], {"a": legacy}, headers=CITY))["data"]
    assert answer["resultChanges"] == fresh
    for bad in ("LTE=", "MS41", base64.urlsafe_b64encode(b"9" * 40).decode()):  # -1, 1.5, too large
        error = _bad_request_on(
            await gql(gateway, CONNECTIONS["resultChanges"], {"a": bad}, headers=CITY), ["resultChanges"]
        )
        assert "invalid cursor" in error["message"]


async def test_a_cursor_of_one_connection_is_refused_by_another(gateway, cursor_run):
    """The codec tags each cursor with its connection: a `units` cursor is no position in `run.results`."""
    units = (await gql(gateway, CONNECTIONS["units"], headers=CITY))["data"]["units"]["edges"]
    answer = await gql(gateway, CONNECTIONS["run.results"], {"a": units[0]["cursor"], "r": cursor_run}, headers=CITY)
    assert "`results`" in _bad_request_on(answer, ["run", "results"])["message"]


async def test_the_cursors_the_connections_give_still_page(gateway, cursor_run):
    """The codec's own cursors are accepted, and page on where they left off."""
    first = (await gql(gateway, CONNECTIONS["units"], headers=CITY))["data"]["units"]["edges"]
    second = (await gql(gateway, CONNECTIONS["units"], {"a": first[-1]["cursor"]}, headers=CITY))["data"]
    assert len(second["units"]["edges"]) == 2 and second["units"]["edges"][0]["cursor"] != first[-1]["cursor"]
    results = "query($a: String, $r: ID!) { run(id: $r) { results(first: 2, after: $a) { edges { node { unitId } } endCursor hasNextPage } } }"  # fmt: skip
    page = (await gql(gateway, results, {"r": cursor_run}, headers=CITY))["data"]["run"]["results"]
    rest = (await gql(gateway, results, {"r": cursor_run, "a": page["endCursor"]}, headers=CITY))["data"]
    seen = [e["node"]["unitId"] for e in page["edges"] + rest["run"]["results"]["edges"]]
    assert page["hasNextPage"] and seen == sorted(RUN_UNITS.values())
    changes = (await gql(gateway, CONNECTIONS["resultChanges"], headers=CITY))["data"]["resultChanges"]
    again = await gql(gateway, CONNECTIONS["resultChanges"], {"a": changes["cursor"]}, headers=CITY)
    assert not again.get("errors"), again


async def test_a_subgraphs_error_reaches_its_alias_beside_the_other_aliases_data(gateway):
    """Two aliased root fields, one with a forged cursor: the error (the subgraph's message and code) is on the
    alias that asked; the other alias keeps its data."""
    query = """{ good: resultChanges(first: 1) { cursor }
                 bad: resultChanges(first: 1, after: "YWJj") { cursor } }"""
    answer = await gql(gateway, query, headers=CITY)
    assert answer["data"]["good"]["cursor"], answer
    assert answer["data"]["bad"] is None, answer
    error = _bad_request_on(answer, ["bad"])
    assert "invalid cursor" in error["message"] and "Cannot return null" not in json.dumps(answer), answer
    assert [e["path"] for e in answer["errors"]] == [["bad"]], answer


async def test_a_subgraphs_error_in_a_nested_alias_reaches_it(gateway, cursor_run):
    query = """query($r: ID!) { run(id: $r) { id good: results(first: 1) { endCursor }
                                               bad: results(first: 1, after: "YWJj") { endCursor } } }"""
    answer = await gql(gateway, query, {"r": cursor_run}, headers=CITY)
    assert answer["data"]["run"]["id"] == cursor_run and answer["data"]["run"]["good"]["endCursor"], answer
    error = _bad_request_on(answer, ["run", "bad"])
    assert "invalid cursor" in error["message"], answer


async def test_errors_of_two_subgraphs_reach_their_aliases(gateway):
    """Partial failure across subgraphs: a bad cursor to ingest and one to appeals, beside a good answer from
    scoring."""
    query = """{ u: units(first: 1, after: "YWJj") { totalCount } a: appeals(after: "MA==") { totalCount }
                 r: runs(first: 1) { totalCount } }"""
    answer = await gql(gateway, query, headers=CITY)
    assert isinstance(answer["data"]["r"]["totalCount"], int), answer
    assert answer["data"]["u"] is None and answer["data"]["a"] is None, answer
    for alias in ("u", "a"):
        assert "invalid cursor" in _bad_request_on(answer, [alias])["message"]


# ---- _entities, straight to each subgraph (the gateway sends representations; anyone can send them directly) ----

# Each subgraph's entity types, with a well-formed representation of each.
ENTITIES = {
    "ingest": {"Unit": {"id": "GZ-WATER"}},
    "indicators": {
        "Unit": {"id": "GZ-WATER"},
        "Dimension": {"code": "service_response"},
        "IndicatorVersion": {"code": "answer_rate", "version": 1},
        "SchemeVersion": {"id": "00000000-0000-4000-8000-000000000000:1"},
    },
    "scoring": {"Unit": {"id": "GZ-WATER"}, "UnitResult": {"id": "x"}, "EvaluationRun": {"id": "x"}},
    "appeals": {"Unit": {"id": "GZ-WATER"}, "UnitResult": {"id": "x"}, "Appeal": {"id": "x"}},
}


def malformed(typename: str, good: dict) -> dict[str, object]:
    """Representations a client may craft: named by what is wrong with them."""
    key = next(iter(good))
    return {
        "an extra field": {"__typename": typename, **good, "extra": 1},
        "no key": {"__typename": typename},
        "a key of another name": {"__typename": typename, "idx": "GZ-WATER"},
        "a key that is an object": {"__typename": typename, **good, key: {"id": "GZ-WATER"}},
        "a key that is a list": {"__typename": typename, **good, key: ["GZ-WATER"]},
        "a key that is a number": {"__typename": typename, **good, key: 1.5},
        "a key that is null": {"__typename": typename, **good, key: None},
        "a key that is a boolean": {"__typename": typename, **good, key: True},
    }


ODD_REPRESENTATIONS = {
    "no __typename": {"id": "GZ-WATER"},
    "an unknown __typename": {"__typename": "Nope", "id": "GZ-WATER"},
    "a __typename that is no entity": {"__typename": "Query", "id": "GZ-WATER"},
    "a __typename that is not text": {"__typename": 5, "id": "GZ-WATER"},
    "a string": "Unit",
    "a number": 7,
    "a list": [{"__typename": "Unit", "id": "GZ-WATER"}],
    "null": None,
}

ENTITIES_QUERY = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"


async def test_an_entity_a_subgraph_only_references_is_a_bad_request_there(stack):
    """Scoring names `SchemeVersion` and `IndicatorVersion` with `resolvable: false`: it resolves neither."""
    async with httpx.AsyncClient(base_url=stack.service_url("scoring"), timeout=30) as client:
        for representation in ({"__typename": "SchemeVersion", "id": "x:1"},
                               {"__typename": "IndicatorVersion", "code": "answer_rate", "version": 1}):  # fmt: skip
            answer = await _entities(client, [representation])
            assert error_codes(answer) == ["BAD_REQUEST"], answer
            assert "not resolvable by this subgraph" in answer["errors"][0]["message"], answer


async def _entities(client: httpx.AsyncClient, representations: list) -> dict:
    return await gql(client, ENTITIES_QUERY, {"r": representations}, headers=ADMIN)


@pytest.mark.parametrize("name", list(ENTITIES))
async def test_malformed_representations_are_bad_requests_on_every_subgraph(stack, name):
    async with httpx.AsyncClient(base_url=stack.service_url(name), timeout=30) as client:
        for typename, good in ENTITIES[name].items():
            control = await _entities(client, [{"__typename": typename, **good}])
            assert not error_codes(control), (typename, control)
            for what, representation in {**malformed(typename, good), **ODD_REPRESENTATIONS}.items():
                # A good representation first: the bad one's error is on its own index, the good one answers.
                answer = await _entities(client, [{"__typename": typename, **good}, representation])
                label = f"{name} {typename} with {what}: {answer}"
                assert "INTERNAL_SERVER_ERROR" not in json.dumps(answer), label
                [error] = answer["errors"]
                if representation is None:  # null for a non-null list item: refused before execution
                    assert error_codes(answer) == ["GRAPHQL_VALIDATION_FAILED"], label
                else:
                    assert error_codes(answer) == ["BAD_REQUEST"], label
                    assert error["path"] == ["_entities", 1], label
                    assert answer["data"]["_entities"][0] == control["data"]["_entities"][0], label
                    assert "representation" in error["message"], label


# ---- Property-based: any cursor, any representation (hypothesis) ----

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
# Arbitrary text, base64url of arbitrary JSON (a forger's first try), and codec-shaped payloads with odd fields.
CURSORS = (
    st.text(max_size=80)
    | JSONISH.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())
    | st.tuples(st.sampled_from([c.split(".")[-1] for c in CONNECTIONS] + ["results"]), JSONISH, JSONISH).map(
        lambda t: (
            base64.urlsafe_b64encode(json.dumps([t[0], t[1], t[2]][: 2 + (t[2] is not None)]).encode())
            .decode()
            .rstrip("=")
        )
    )
)
PROPERTY = settings(
    max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _no_internal_error(client: httpx.Client, query: str, variables: dict, headers: dict) -> dict:
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code < 500 and "INTERNAL_SERVER_ERROR" not in response.text, (variables, response.text)
    answer = response.json()
    for error in answer.get("errors") or []:
        assert error.get("extensions", {}).get("code") in ("BAD_REQUEST", "GRAPHQL_VALIDATION_FAILED"), answer
    return answer


@pytest.mark.parametrize("connection", list(CONNECTIONS))
def test_any_cursor_is_a_page_or_a_bad_request_through_the_gateway(stack, cursor_run, connection):
    headers = UNIT if connection == "appealInbox" else CITY
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:

        @PROPERTY
        @given(cursor=CURSORS)
        def check(cursor):
            answer = _no_internal_error(client, CONNECTIONS[connection], {"a": cursor, "r": cursor_run}, headers)
            if answer.get("errors"):
                assert "invalid cursor" in answer["errors"][0]["message"], answer

        check()


@pytest.mark.parametrize("name", list(ENTITIES))
def test_any_representation_is_an_entity_null_or_a_bad_request(stack, name):
    typenames = [*ENTITIES[name], "Query", "Nope"]
    keys = sorted({k for good in ENTITIES[name].values() for k in good} | {"extra"})
    representation = st.one_of(
        JSONISH,
        st.builds(
            lambda t, fields: {"__typename": t, **fields},
            st.sampled_from(typenames),
            st.dictionaries(st.sampled_from(keys), JSONISH, max_size=3),
        ),
    )
    with httpx.Client(base_url=stack.service_url(name), timeout=30) as client:

        @PROPERTY
        @given(representations=st.lists(representation, min_size=1, max_size=3))
        def check(representations):
            _no_internal_error(client, ENTITIES_QUERY, {"r": representations}, ADMIN)

        check()
