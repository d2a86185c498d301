"""Schemes through the indicators subgraph: drafting, validation, lifecycle, access, documents."""

from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hotline.kit.auth import mint_service_token
from hotline.kit.settings import DEVELOPMENT_SERVICE_SECRET
from services.indicators.templates import TEMPLATE_DIR
from tests.support import TREE, auth, data_of, error_codes, gql

PROVINCE = auth("GD", "organizer")
CITY_GZ = auth("GD-GZ", "unit")
CITY_SZ = auth("GD-SZ", "unit")
GZ_ORGANIZER = auth("GD-GZ", "organizer")
HOUSING = auth("GZ-HOUSING", "unit")

PAYLOAD = "ok problems { path code message } scheme { id schemeId version status code body }"
FROM_TEMPLATE = f"""mutation($code: String!) {{
  createSchemeFromTemplate(templateCode: "gb12345_provincial", code: $code, nameZh: "广东省12345热线综合评价",
                           cohort: {{kind: "city_body", under: "GD"}}) {{ {PAYLOAD} }} }}"""
PUBLISH = f"mutation($id: ID!, $v: Int!) {{ publishScheme(schemeId: $id, version: $v) {{ {PAYLOAD} }} }}"
UPDATE = f"mutation($id: ID!, $body: JSON!) {{ updateSchemeDraft(schemeId: $id, body: $body) {{ {PAYLOAD} }} }}"
OPEN = f"mutation($id: ID!) {{ openSchemeVersion(schemeId: $id) {{ {PAYLOAD} }} }}"
VISIBLE = "{ schemes { id code status } }"
VALIDATE = "query($body: JSON!) { validateScheme(body: $body) { path code message } }"


@pytest.fixture
async def tree(ingest):
    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.json()["counts"]["created"] == len(TREE)


async def draft(indicators, code="GD-12345-2026"):
    result = data_of(await gql(indicators, FROM_TEMPLATE, {"code": code}, headers=PROVINCE))
    payload = result["createSchemeFromTemplate"]
    assert payload["ok"] and payload["problems"] == [], payload
    return payload["scheme"]


async def published(indicators, code="GD-12345-2026"):
    scheme = await draft(indicators, code)
    result = data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=PROVINCE))
    assert result["publishScheme"]["ok"], result
    return result["publishScheme"]["scheme"]


async def test_a_template_draft_is_complete_and_publishes(indicators, tree):
    scheme = await draft(indicators)
    body = scheme["body"]
    assert scheme["status"] == "DRAFT" and len(body["items"]) == 45
    assert sum(i["points"] for i in body["items"]) == 100
    assert all(isinstance(i["indicator"]["version"], int) for i in body["items"])
    done = await published(indicators, "GD-OTHER")
    assert done["status"] == "PUBLISHED"


async def test_a_draft_with_several_mistakes_returns_all_of_them_at_once(indicators, tree):
    scheme = await draft(indicators)
    body = copy.deepcopy(scheme["body"])
    body["items"][0]["points"] = 13  # total now 110
    body["items"] = [i for i in body["items"] if i["indicator"]["code"] != "returned_for_redo"]  # template item gone
    body["period"] = {"granularity": "custom", "months": 0}
    body["items"][1]["rule"] = {"type": "threshold"}  # target missing
    body["items"][0]["rule"] = {"type": "linear_band", "floor": 90, "target": 80}  # answer_rate: higher is better
    body["items"][3]["indicator"]["version"] = 99
    body["items"][4]["indicator"] = {"code": "cc_order_volume", "version": 1}  # agent-level indicator
    body["cohort"] = {"kind": "city_body", "under": "GD"}
    result = data_of(await gql(indicators, UPDATE, {"id": scheme["schemeId"], "body": body}, headers=PROVINCE))
    payload = result["updateSchemeDraft"]
    assert payload["ok"]  # the draft is saved, with its problems listed
    codes = {(p["path"], p["code"]) for p in payload["problems"]}
    assert ("items", "template_indicator_missing") in codes
    assert ("period.months", "invalid") in codes
    assert ("items[1].rule.target", "missing_parameter") in codes
    assert ("items[0].rule", "inconsistent") in codes
    assert ("items[3].indicator", "unknown_indicator_version") in codes
    assert ("items[4].indicator", "level_mismatch") in codes
    assert ("dimensions", "undeclared_dimension") in codes
    messages = {p["message"] for p in payload["problems"]}
    assert "a comprehensive scheme must include 'returned_for_redo' from its template" in messages
    assert "cc_order_volume applies to agent_team, agent, not to the cohort's city_body units" in messages
    refused = data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=PROVINCE))
    assert not refused["publishScheme"]["ok"]
    assert {(p["path"], p["code"]) for p in refused["publishScheme"]["problems"]} == codes


async def test_points_and_periods(indicators, tree):
    scheme = await draft(indicators)
    body = copy.deepcopy(scheme["body"])
    body["items"][0]["points"] = 4
    body["period"] = {"granularity": "month"}
    body["kind"] = "special"
    result = data_of(await gql(indicators, UPDATE, {"id": scheme["schemeId"], "body": body}, headers=PROVINCE))
    messages = {p["message"] for p in result["updateSchemeDraft"]["problems"]}
    assert "the items' points add up to 101, not 100" in messages
    assert "a special (spec 5.1.2.3) scheme needs at least 3 continuous month(s) of data, not 1" in messages


async def test_a_published_scheme_cannot_be_changed_by_any_path(indicators, tree, db):
    scheme = await published(indicators)
    sid = scheme["schemeId"]
    body = copy.deepcopy(scheme["body"])
    body["name_zh"] = "改名"
    refused = data_of(await gql(indicators, UPDATE, {"id": sid, "body": body}, headers=PROVINCE))["updateSchemeDraft"]
    assert not refused["ok"] and refused["problems"][0]["code"] == "immutable"
    again = data_of(await gql(indicators, PUBLISH, {"id": sid, "v": 1}, headers=PROVINCE))["publishScheme"]
    assert again["problems"][0]["code"] == "not_a_draft"
    async with db.session() as session:
        with pytest.raises(DBAPIError, match="immutable"):
            await session.execute(text("UPDATE indicators.scheme_version SET body = '{}' WHERE status = 'published'"))
        await session.rollback()
        with pytest.raises(DBAPIError, match="cannot be deleted"):
            await session.execute(text("DELETE FROM indicators.scheme_version WHERE status = 'published'"))
    # Editing means a new version; the published one stays as it was.
    opened = data_of(await gql(indicators, OPEN, {"id": sid}, headers=PROVINCE))["openSchemeVersion"]
    assert opened["ok"] and opened["scheme"]["version"] == 2 and opened["scheme"]["status"] == "DRAFT"
    changed = data_of(await gql(indicators, UPDATE, {"id": sid, "body": body}, headers=PROVINCE))["updateSchemeDraft"]
    assert changed["ok"] and changed["scheme"]["version"] == 2
    diff = data_of(
        await gql(
            indicators,
            '{ schemeDiff(id: "SID", fromVersion: 1, toVersion: 2) { path change before after } }'.replace("SID", sid),
            headers=PROVINCE,
        )
    )
    assert diff["schemeDiff"] == [
        {"path": "name_zh", "change": "changed", "before": "广东省12345热线综合评价", "after": "改名"}
    ]
    v1 = data_of(
        await gql(
            indicators,
            '{ scheme(id: "SID", version: 1) { status body versions { version status } } }'.replace("SID", sid),
            headers=PROVINCE,
        )
    )
    assert v1["scheme"]["status"] == "PUBLISHED" and v1["scheme"]["body"]["name_zh"] == "广东省12345热线综合评价"
    assert v1["scheme"]["versions"] == [{"version": 2, "status": "DRAFT"}, {"version": 1, "status": "PUBLISHED"}]
    # A unit of the cohort sees the published version only.
    seen = await gql(
        indicators, '{ scheme(id: "SID") { version versions { version } } }'.replace("SID", sid), headers=CITY_GZ
    )
    assert data_of(seen)["scheme"] == {"version": 1, "versions": [{"version": 1}]}


async def test_access_organizers_cohort_and_nobody_else(indicators, tree):
    await draft(indicators, "GD-DRAFT")
    scheme = await published(indicators)
    sid = scheme["schemeId"]
    # The organizer sees its drafts and published versions; cohort units see only the published one.
    assert {s["code"] for s in data_of(await gql(indicators, VISIBLE, headers=PROVINCE))["schemes"]} == {
        "GD-DRAFT",
        "GD-12345-2026",
    }
    for city in (CITY_GZ, CITY_SZ, GZ_ORGANIZER):
        seen = data_of(await gql(indicators, VISIBLE, headers=city))["schemes"]
        assert [(s["code"], s["status"]) for s in seen] == [("GD-12345-2026", "PUBLISHED")]
    # An undertaking unit is not in a cohort of cities: the scheme does not exist for it.
    assert data_of(await gql(indicators, VISIBLE, headers=HOUSING))["schemes"] == []
    one = '{ scheme(id: "SID") { code } }'.replace("SID", sid)
    assert data_of(await gql(indicators, one, headers=HOUSING))["scheme"] is None
    # A city organizer cannot manage the province's scheme: not found, not forbidden.
    opened = data_of(await gql(indicators, OPEN, {"id": sid}, headers=GZ_ORGANIZER))["openSchemeVersion"]
    assert opened["problems"][0]["code"] == "not_found" and opened["scheme"] is None
    # Units cannot draft at all.
    result = await gql(indicators, FROM_TEMPLATE, {"code": "X"}, headers=CITY_GZ)
    assert error_codes(result) == ["FORBIDDEN"]


async def test_units_list_the_schemes_that_apply_to_them_and_entities_are_scoped(indicators, tree):
    scheme = await published(indicators)
    query = (
        '{ _entities(representations: [{__typename: "Unit", id: "GD-GZ"}, {__typename: "SchemeVersion", id: "SID"}]) { ... on Unit { id schemes { code } } ... on SchemeVersion { code organizerId organizer { id } cohort { kind underId under { id } } } } }'
    ).replace("SID", scheme["id"])
    city = data_of(await gql(indicators, query, headers=CITY_GZ))["_entities"]
    assert city == [
        {"id": "GD-GZ", "schemes": [{"code": "GD-12345-2026"}]},
        # The province is outside the city's subtree: its id is given, its Unit is not.
        {
            "code": "GD-12345-2026", "organizerId": "GD", "organizer": None,
            "cohort": {"kind": "city_body", "underId": "GD", "under": None},
        },
    ]  # fmt: skip
    assert data_of(await gql(indicators, query, headers=HOUSING))["_entities"] == [None, None]
    province = data_of(await gql(indicators, query, headers=PROVINCE))["_entities"]
    assert province[0] == {"id": "GD-GZ", "schemes": [{"code": "GD-12345-2026"}]}
    assert province[1]["organizer"] == {"id": "GD"} and province[1]["cohort"]["under"] == {"id": "GD"}


async def test_the_scheme_document_endpoint(indicators, tree):
    scheme = await published(indicators)
    url = f"/schemes/{scheme['schemeId']}/versions/1/document"
    response = await indicators.get(url, headers=CITY_GZ)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["id"] == scheme["schemeId"] and document["status"] == "published" and document["organizer"] == "GD"
    assert document["grade_bands"][0] == {"code": "excellent", "name_zh": "优秀", "min": 90}
    assert document["appeal"]["window_days"] == 7 and document["na_policy"] == "rescale"
    answer = next(i for i in document["items"] if i["indicator"]["code"] == "answer_rate")
    assert answer["indicator"]["formula"] == "calls.answered / calls.offered * 100"
    assert answer["indicator"]["clause"] == "6.1.1" and answer["rule"] == {"type": "ratio_to_reference"}
    # The dimension's names, for reports (descriptive: an import keeps only code and version).
    assert (answer["indicator"]["dimension_name_zh"], answer["indicator"]["dimension_name_en"]) == (
        "服务响应", "Service response")  # fmt: skip
    as_yaml = await indicators.get(url, headers={**CITY_GZ, "accept": "application/yaml"})
    assert yaml.safe_load(as_yaml.text) == document
    # Another city of the cohort reads it too; a unit outside the cohort gets 404, as for a missing one.
    assert (await indicators.get(url, headers=auth("GD-SZ", "organizer"))).status_code == 200
    assert (await indicators.get(url, headers=HOUSING)).status_code == 404
    assert (
        await indicators.get(f"/schemes/{scheme['schemeId']}/versions/9/document", headers=PROVINCE)
    ).status_code == 404
    assert (await indicators.get(url)).status_code == 401
    # Scoring fetches it with a service token acting for the organizer; drafts stay invisible to it.
    service = {
        "authorization": f"Bearer {mint_service_token(secret=DEVELOPMENT_SERVICE_SECRET, service='scoring', unit_id='GD')}"
    }
    assert (await indicators.get(url, headers=service)).json() == document
    other = await draft(indicators, "GD-DRAFT-ONLY")
    draft_url = f"/schemes/{other['schemeId']}/versions/1/document"
    assert (await indicators.get(draft_url, headers=service)).status_code == 404
    assert (await indicators.get(draft_url, headers=PROVINCE)).json()["status"] == "draft"


TEMPLATE_DRAFT = f"""mutation($t: String!, $code: String!) {{
  createSchemeFromTemplate(templateCode: $t, code: $code, nameZh: "模板方案") {{ {PAYLOAD} }} }}"""


async def test_every_shipped_template_created_with_no_cohort_validates_publishes_and_states_its_cohort(
    indicators, tree
):
    templates = data_of(await gql(indicators, "{ schemeTemplates { code body } }", headers=PROVINCE))
    shipped = {t["code"]: t["body"] for t in templates["schemeTemplates"]}
    assert sorted(shipped) == sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))
    for code, template in shipped.items():
        # The organizer the template is made for: the province evaluates its cities, a city its own units.
        organizer, headers = ("GD", PROVINCE) if template["cohort"]["kind"] == "city_body" else ("GD-GZ", GZ_ORGANIZER)
        variables = {"t": code, "code": f"T-{code}"}
        created = data_of(await gql(indicators, TEMPLATE_DRAFT, variables, headers=headers))["createSchemeFromTemplate"]
        assert created["ok"] and created["problems"] == [], (code, created["problems"])
        body = created["scheme"]["body"]
        # No cohort given: the template's kind under the organizer, stated in the draft.
        assert body["cohort"] == {"kind": template["cohort"]["kind"], "under": organizer}
        checked = data_of(await gql(indicators, VALIDATE, {"body": body}, headers=headers))["validateScheme"]
        assert checked == [], (code, checked)
        scheme_id = created["scheme"]["schemeId"]
        done = data_of(await gql(indicators, PUBLISH, {"id": scheme_id, "v": 1}, headers=headers))
        assert done["publishScheme"]["ok"], (code, done)
        document = (await indicators.get(f"/schemes/{scheme_id}/versions/1/document", headers=headers)).json()
        assert document["cohort"] == body["cohort"] and document["organizer"] == organizer
        expert = [i for i in document["items"] if i["indicator"]["formula"] is None]
        assert expert and all(i["rule"] == {"type": "expert"} for i in expert), code


async def test_a_cohort_that_holds_nobody_is_refused_at_publication(indicators, tree):
    """A city taking the province's template of cities (no cohort given: city bodies under the city) drafts
    fine, but publishing a scheme that would evaluate nobody is refused — not left for startRun to find."""
    variables = {"t": "gb12345_provincial", "code": "GZ-WRONG-LEVEL"}
    created = data_of(await gql(indicators, TEMPLATE_DRAFT, variables, headers=GZ_ORGANIZER))
    scheme = created["createSchemeFromTemplate"]["scheme"]
    assert scheme["body"]["cohort"] == {"kind": "city_body", "under": "GD-GZ"}
    refused = data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=GZ_ORGANIZER))
    assert refused["publishScheme"]["ok"] is False
    assert [(p["path"], p["code"]) for p in refused["publishScheme"]["problems"]] == [("cohort", "empty_cohort")]
    body = {**scheme["body"], "cohort": {"kind": "undertaking_unit", "under": "GD-GZ"}}
    fixed = data_of(await gql(indicators, UPDATE, {"id": scheme["schemeId"], "body": body}, headers=GZ_ORGANIZER))
    assert fixed["updateSchemeDraft"]["ok"], fixed
    again = data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=GZ_ORGANIZER))
    assert "empty_cohort" not in [p["code"] for p in again["publishScheme"]["problems"]], again


async def test_a_document_states_the_cohorts_unit_when_the_body_leaves_it_out(indicators, tree):
    scheme = await draft(indicators)
    body = {**scheme["body"], "cohort": {"kind": "city_body"}}  # contracts §5: `under` defaults to the organizer
    updated = data_of(await gql(indicators, UPDATE, {"id": scheme["schemeId"], "body": body}, headers=PROVINCE))
    assert updated["updateSchemeDraft"]["problems"] == []
    url = f"/schemes/{scheme['schemeId']}/versions/1/document"
    assert (await indicators.get(url, headers=PROVINCE)).json()["cohort"] == {"kind": "city_body", "under": "GD"}
    listed = {**body, "cohort": {"units": ["GD-GZ", "GD-SZ"]}}  # a list of units stays a list
    await gql(indicators, UPDATE, {"id": scheme["schemeId"], "body": listed}, headers=PROVINCE)
    assert (await indicators.get(url, headers=PROVINCE)).json()["cohort"] == {"units": ["GD-GZ", "GD-SZ"]}


async def test_export_and_import_a_scheme(indicators, tree):
    scheme = await published(indicators)
    exported = data_of(
        await gql(
            indicators, '{ exportScheme(id: "SID", version: 1) }'.replace("SID", scheme["schemeId"]), headers=PROVINCE
        )
    )["exportScheme"]
    assert yaml.safe_load(exported)["items"][0]["indicator"]["name_zh"] == "接通率"
    mutation = f"mutation($y: String!) {{ importScheme(yaml: $y) {{ {PAYLOAD} }} }}"
    # The city imports the province's scheme as its own draft: same validation.
    as_city = exported.replace("under: GD", "under: GD-GZ")
    imported = data_of(await gql(indicators, mutation, {"y": as_city}, headers=GZ_ORGANIZER))["importScheme"]
    assert imported["ok"] and imported["scheme"]["status"] == "DRAFT", imported
    assert imported["problems"] == []
    # Importing again into the province makes a new draft version of its published scheme.
    again = data_of(await gql(indicators, mutation, {"y": exported}, headers=PROVINCE))["importScheme"]
    assert again["scheme"]["version"] == 2 and again["scheme"]["status"] == "DRAFT"
    broken = data_of(await gql(indicators, mutation, {"y": "items: [\n  - x"}, headers=PROVINCE))["importScheme"]
    assert not broken["ok"] and broken["problems"][0]["code"] == "yaml_syntax"


async def test_a_malformed_draft_is_saved_listed_and_readable_without_errors(indicators, tree):
    create = f"mutation($body: JSON!) {{ createScheme(body: $body) {{ {PAYLOAD} }} }}"
    body = {
        "code": "GD-MESSY", "name_zh": "草稿", "kind": ["comprehensive"], "cohort": {"kind": 5, "units": "GD-GZ"},
        "period": "monthly", "appeal": [1], "grade_bands": [{"code": "a"}], "items": [
            {"indicator": ["answer_rate"], "points": "ten"}, {"indicator": {"code": "answer_rate", "version": 1},
            "points": 100, "rule": {"type": "threshold", "target": "85"}}, 7,
        ],
    }  # fmt: skip
    created = data_of(await gql(indicators, create, {"body": body}, headers=PROVINCE))["createScheme"]
    assert created["ok"] and created["scheme"]["status"] == "DRAFT"
    paths = {p["path"] for p in created["problems"]}
    assert {
        "kind",
        "cohort",
        "period.granularity",
        "appeal",
        "grade_bands[0]",
        "items[0].indicator",
        "items[1].rule.target",
        "items[2]",
    } <= paths
    read = """query($id: ID!) { scheme(id: $id) { nameZh kind appeal gradeBands { code } document
                cohort { kind underId unitIds units { id } } items { points weight rule indicator { code } }
                problems { path } } }"""
    data = data_of(await gql(indicators, read, {"id": created["scheme"]["schemeId"]}, headers=PROVINCE))["scheme"]
    assert data["document"] is None and data["kind"] == "['comprehensive']"
    # Unreadable items are left out; readable ones show what can be shown.
    assert data["items"] == [
        {
            "points": 100,
            "weight": None,
            "rule": {"type": "threshold", "target": "85"},
            "indicator": {"code": "answer_rate"},
        }
    ]
    assert data["gradeBands"] == [] and data["appeal"]["window_days"] == 7
    refused = data_of(await gql(indicators, create, {"body": [1, 2]}, headers=PROVINCE))["createScheme"]
    assert not refused["ok"] and refused["problems"][0]["code"] == "not_a_mapping"


async def test_archiving(indicators, tree):
    scheme = await published(indicators)
    archive = f"mutation($id: ID!, $v: Int!) {{ archiveScheme(schemeId: $id, version: $v) {{ {PAYLOAD} }} }}"
    opened = data_of(await gql(indicators, OPEN, {"id": scheme["schemeId"]}, headers=PROVINCE))["openSchemeVersion"]
    draft_refused = data_of(await gql(indicators, archive, {"id": scheme["schemeId"], "v": 2}, headers=PROVINCE))
    assert draft_refused["archiveScheme"]["problems"][0]["code"] == "not_published"
    assert opened["scheme"]["version"] == 2
    done = data_of(await gql(indicators, archive, {"id": scheme["schemeId"], "v": 1}, headers=PROVINCE))[
        "archiveScheme"
    ]
    assert done["ok"] and done["scheme"]["status"] == "ARCHIVED"
    # Archived: no longer shown to the cohort; still readable, unchanged, by its organizers.
    assert data_of(await gql(indicators, VISIBLE, headers=CITY_GZ))["schemes"] == []
    mine = data_of(await gql(indicators, VISIBLE, headers=PROVINCE))["schemes"]
    assert [(s["code"], s["status"]) for s in mine] == [("GD-12345-2026", "DRAFT"), ("GD-12345-2026", "ARCHIVED")]


async def test_template_drafts_report_a_bad_cohort_and_unknown_templates(indicators, tree):
    mutation = f"""mutation($t: String!, $cohort: JSON) {{ createSchemeFromTemplate(templateCode: $t, code: "GD-C",
                   nameZh: "方案", cohort: $cohort) {{ {PAYLOAD} }} }}"""
    bad = data_of(await gql(indicators, mutation, {"t": "gb12345_provincial", "cohort": ["GD-GZ"]}, headers=PROVINCE))
    assert ("cohort", "invalid") in {(p["path"], p["code"]) for p in bad["createSchemeFromTemplate"]["problems"]}
    outside = {"kind": "city_body", "under": "GD-NOWHERE"}
    far = data_of(
        await gql(
            indicators,
            mutation.replace("GD-C", "GD-D"),
            {"t": "gb12345_provincial", "cohort": outside},
            headers=PROVINCE,
        )
    )
    assert far["createSchemeFromTemplate"]["problems"] == [
        {
            "path": "cohort.under",
            "code": "unknown_unit",
            "message": "unit 'GD-NOWHERE' does not exist or is outside your subtree",
        }
    ]
    listed = {"units": ["GZ-HOUSING", "GD-SZ"]}  # a city organizer names a unit of another city
    city = data_of(
        await gql(
            indicators,
            mutation.replace("GD-C", "GZ-C"),
            {"t": "gb12345_provincial", "cohort": listed},
            headers=GZ_ORGANIZER,
        )
    )
    found = {(p["path"], p["code"]) for p in city["createSchemeFromTemplate"]["problems"]}
    assert ("cohort.units[1]", "unknown_unit") in found and ("items[0].indicator", "level_mismatch") in found
    missing = data_of(await gql(indicators, mutation, {"t": "nope", "cohort": None}, headers=PROVINCE))
    assert missing["createSchemeFromTemplate"]["problems"][0]["code"] == "unknown_template"


async def test_unit_schemes_are_batched_for_many_entities(indicators, tree, engine):
    from sqlalchemy import event

    await published(indicators)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if "scheme_version" in statement:
            statements.append(statement)

    units = ["GD-GZ", "GD-SZ", "GZ-HOUSING", "GZ-WATER", "SZ-HOUSING", "GZ-TIANHE"]
    representations = ", ".join(f'{{__typename: "Unit", id: "{u}"}}' for u in units)
    query = f"{{ _entities(representations: [{representations}]) {{ ... on Unit {{ id schemes {{ code }} }} }} }}"
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        found = data_of(await gql(indicators, query, headers=PROVINCE))["_entities"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert [len(e["schemes"]) for e in found] == [1, 1, 0, 0, 0, 0]
    assert len(statements) == 1  # one query for all six units
