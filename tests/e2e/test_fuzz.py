"""Fuzzing with no 500s, on a stack of its own (no gateway; fuzzed writes stay out of the shared e2e database).

REST: schemathesis generates requests from each service's OpenAPI (bounded examples). GraphQL: hypothesis
generates argument values (any JSON value, odd strings, huge and negative numbers) for key queries and
mutations. Any 5xx is a bug in the service.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.cli.stack import SERVICES
from tests.demo_data import load_demo_units
from tests.e2e.conftest import private_stack
from tests.support import auth

pytestmark = pytest.mark.slow
ADMIN = auth("GD", "admin")
CITY = auth("GD-GZ", "organizer")
EXAMPLES = 6


@pytest.fixture(scope="module")
async def fuzz_stack(fresh_database, tmp_path_factory):
    url = await fresh_database("hotline_fuzz")
    await load_demo_units(url)
    system = private_stack(url, tmp_path_factory.mktemp("fuzz-logs"))
    await asyncio.to_thread(system.start, gateway=False)
    yield system
    await asyncio.to_thread(system.stop)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("name", [s.name for s in SERVICES])
def test_rest_endpoints_never_answer_5xx(fuzz_stack, name):
    base = fuzz_stack.service_url(name)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    tried = operations = 0
    for result in schema.get_all_operations():
        operations += 1
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal tried
            tried += 1
            response = case.call(base_url=base, headers={**ADMIN, **(case.headers or {})}, timeout=20)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        run()
    assert tried >= operations
    assert not failures, "\n".join(failures) + "\n" + fuzz_stack.log_tail(name, 60)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
ODD_TEXT = st.sampled_from(
    ["", " ", "GD-SZ", "../GD", "GD' OR '1'='1", "%", "\x00", "国" * 300, "-1", "9" * 40]
) | st.text(max_size=60)


# Operation, and the variables whose values hypothesis chooses (the rest are fixed).
GRAPHQL_TARGETS = {
    "ingest": [
        ("query($id: ID!) { unit(id: $id) { id } }", {"id": ODD_TEXT}),
        ("query($u: ID, $f: Int!, $a: String) { units(under: $u, first: $f, after: $a) { totalCount } }",
         {"u": ODD_TEXT, "f": st.integers(-(2**31), 2**31 - 1), "a": ODD_TEXT}),
        ("query($u: ID!, $f: Date!, $t: Date!) { dataQuality(unitId: $u, fromDate: $f, toDate: $t) { __typename } }",
         {"u": ODD_TEXT, "f": ODD_TEXT | st.dates().map(str), "t": st.dates().map(str)}),
        ("mutation($k: String!, $s: String!, $r: [JSON!]!, $z: String) { submitRecords(kind: $k, source: $s, records: $r, timeZone: $z) { id status } }",
         {"k": st.sampled_from(["work_order", "call", "visit", "x"]) | ODD_TEXT, "s": ODD_TEXT, "r": st.lists(JSONISH, max_size=3), "z": ODD_TEXT}),
        ("mutation($u: [UnitInput!]!) { registerUnits(units: $u, dryRun: true) { __typename } }",
         {"u": st.lists(st.fixed_dictionaries({"id": ODD_TEXT, "kind": st.sampled_from(["district", "agent"]), "nameZh": ODD_TEXT}), max_size=2)}),
        ("mutation($n: String!, $s: JSON!) { saveColumnMapping(name: $n, spec: $s) { __typename } }", {"n": ODD_TEXT, "s": JSONISH}),
    ],
    "indicators": [
        ("query($b: JSON!) { validateScheme(body: $b) { code } }", {"b": JSONISH}),
        ("mutation($b: JSON!) { createScheme(body: $b) { __typename } }", {"b": JSONISH}),
        ("mutation($y: String!) { importScheme(yaml: $y) { __typename } }", {"y": ODD_TEXT | st.just("a: [1, {b: }")}),
        ("query($id: ID!, $v: Int) { scheme(id: $id, version: $v) { id } }", {"id": ODD_TEXT, "v": st.none() | st.integers(-(2**31), 2**31 - 1)}),
        ("mutation($id: ID!, $v: Int) { publishScheme(schemeId: $id, version: $v) { ok } }", {"id": ODD_TEXT | st.sampled_from(["00000000-0000-4000-8000-000000000000:1", "x:2147483647", "x:999999999"]), "v": st.none() | st.integers(-(2**31), 2**31 - 1)}),
        ("query($r: [_Any!]!) { _entities(representations: $r) { ... on IndicatorVersion { nameZh } } }", {"r": st.lists(st.fixed_dictionaries({"__typename": st.just("IndicatorVersion"), "code": JSONISH, "version": JSONISH}), max_size=3)}),
        ("query($c: String!, $v: Int) { indicator(code: $c, version: $v) { __typename } }", {"c": ODD_TEXT, "v": st.none() | st.integers(-(2**31), 2**31 - 1)}),
    ],
    "scoring": [
        ("mutation($i: StartRunInput!) { startRun(input: $i) { __typename } }",
         {"i": st.fixed_dictionaries({"schemeId": ODD_TEXT, "schemeVersion": st.integers(-(2**31), 2**31 - 1), "periodKind": st.sampled_from(["MONTH", "QUARTER", "YEAR", "CUSTOM"])},
                                    optional={"period": ODD_TEXT, "startDate": st.dates().map(str), "endDate": st.dates().map(str)})}),
        ("query($id: ID!) { run(id: $id) { id } unitResult(id: $id) { id } }", {"id": ODD_TEXT}),
        ("query($a: String, $f: Int!) { resultChanges(after: $a, first: $f) { __typename } }", {"a": ODD_TEXT, "f": st.integers(-(2**31), 2**31 - 1)}),
        ("query($a: String, $f: Int!) { runs(after: $a, first: $f) { totalCount } }", {"a": ODD_TEXT, "f": st.integers(-(2**31), 2**31 - 1)}),
        ("query($i: [String!]!, $j: [[Float!]!]!) { ahpWeights(indicators: $i, judgements: $j) { __typename } }",
         {"i": st.lists(ODD_TEXT, max_size=4), "j": st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4), max_size=4)}),
        ("query($r: ID!, $m: String!) { suggestedWeights(runId: $r, method: $m) { __typename } }", {"r": ODD_TEXT, "m": ODD_TEXT}),
        ("mutation($u: String!, $s: Date!, $e: Date!) { checkAlerts(under: $u, startDate: $s, endDate: $e) { __typename } }",
         {"u": ODD_TEXT, "s": st.dates().map(str), "e": st.dates().map(str)}),
    ],
    "appeals": [
        ("query($id: ID!) { appeal(id: $id) { id } }", {"id": ODD_TEXT}),
        ("mutation($id: ID!, $v: Int!, $f: String!, $c: String!) { addEvidenceFile(id: $id, expectedVersion: $v, filename: $f, contentBase64: $c) { ok } }",
         {"id": ODD_TEXT, "v": st.integers(-(2**31), 2**31 - 1), "f": ODD_TEXT, "c": ODD_TEXT}),
        ("mutation($r: ID!, $i: [String!]!, $t: String!) { fileAppeal(resultId: $r, indicators: $i, reasonCategory: WRONG_DATA, reason: $t) { ok } }",
         {"r": ODD_TEXT, "i": st.lists(ODD_TEXT, max_size=3), "t": ODD_TEXT}),
    ],
}  # fmt: skip


def _fuzz_operation(client: httpx.Client, query: str, variables: dict, failures: list[str]) -> None:
    @FUZZ
    @given(values=st.fixed_dictionaries(variables))
    def run(values):
        for headers in (CITY, ADMIN):
            response = client.post("/graphql", content=json.dumps({"query": query, "variables": values}),
                                   headers={"content-type": "application/json", **headers})  # fmt: skip
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in response.text:
                failures.append(f"{query[:60]} {values!r} -> {response.status_code} {response.text[:300]}")

    run()


@pytest.mark.parametrize("name", list(GRAPHQL_TARGETS))
def test_graphql_inputs_never_answer_5xx(fuzz_stack, name):
    failures: list[str] = []
    with httpx.Client(base_url=fuzz_stack.service_url(name), timeout=20) as client:
        for query, variables in GRAPHQL_TARGETS[name]:
            # The operation must be valid for the schema: a typo would make every example a 4xx and prove nothing.
            probe = client.post("/graphql", json={"query": query, "variables": {}}, headers=CITY).json()
            assert not any(
                "Cannot query field" in e["message"] or "Unknown" in e["message"] for e in probe.get("errors", [])
            ), probe

            _fuzz_operation(client, query, variables, failures)
    assert not failures, "\n".join(failures[:10]) + "\n" + fuzz_stack.log_tail(name, 60)
