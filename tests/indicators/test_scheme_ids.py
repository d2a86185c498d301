"""One scheme id format: every query and mutation of indicators names a scheme by its bare id or by the
`id` of one of its versions (`<uuid>:<version>`), which also names the version when none is given."""

from __future__ import annotations

import pytest
import yaml

from tests.indicators.test_schemes import PAYLOAD, PROVINCE, draft
from tests.support import TREE, auth, data_of, error_codes, gql

PUBLISH = f"mutation($id: ID!, $v: Int) {{ publishScheme(schemeId: $id, version: $v) {{ {PAYLOAD} }} }}"
ARCHIVE = f"mutation($id: ID!, $v: Int) {{ archiveScheme(schemeId: $id, version: $v) {{ {PAYLOAD} }} }}"
UPDATE = f"mutation($id: ID!, $body: JSON!) {{ updateSchemeDraft(schemeId: $id, body: $body) {{ {PAYLOAD} }} }}"
OPEN = f"mutation($id: ID!) {{ openSchemeVersion(schemeId: $id) {{ {PAYLOAD} }} }}"
SCHEME = "query($id: ID!, $v: Int) { scheme(id: $id, version: $v) { id version status } }"
DIFF = "query($id: ID!, $f: Int, $t: Int!) { schemeDiff(id: $id, fromVersion: $f, toVersion: $t) { path change } }"
EXPORT = "query($id: ID!, $v: Int) { exportScheme(id: $id, version: $v) }"


@pytest.fixture
async def tree(ingest):
    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.json()["counts"]["created"] == len(TREE)


async def call(indicators, query: str, name: str, **variables) -> dict:
    return data_of(await gql(indicators, query, variables, headers=PROVINCE))[name]


def codes(payload: dict) -> list[tuple[str, str]]:
    return [(p["path"], p["code"]) for p in payload["problems"]]


async def test_every_mutation_takes_the_bare_id_and_the_version_key(indicators, tree):
    created = await draft(indicators)
    sid, key1 = created["schemeId"], created["id"]
    assert key1 == f"{sid}:1"
    renamed = {**created["body"], "name_en": "renamed"}
    # updateSchemeDraft: both forms; a version named must be the draft.
    by_key = await call(indicators, UPDATE, "updateSchemeDraft", id=key1, body=renamed)
    assert by_key["ok"] and by_key["scheme"]["body"]["name_en"] == "renamed"
    by_bare = await call(indicators, UPDATE, "updateSchemeDraft", id=sid, body=created["body"])
    assert by_bare["ok"] and by_bare["scheme"]["version"] == 1
    # publishScheme: the key names the version; bare needs `version`; both must agree.
    assert codes(await call(indicators, PUBLISH, "publishScheme", id=sid)) == [("version", "version_required")]
    conflict = await call(indicators, PUBLISH, "publishScheme", id=key1, v=2)
    assert conflict["problems"] == [
        {
            "path": "schemeId",
            "code": "version_conflict",
            "message": "the id names version 1 but version is 2: give the version once, or the same twice",
        }
    ]
    assert not conflict["ok"] and conflict["scheme"] is None
    published = await call(indicators, PUBLISH, "publishScheme", id=key1)
    assert published["ok"] and published["scheme"]["status"] == "PUBLISHED", published
    # openSchemeVersion: both forms; a version named must be the latest.
    opened = await call(indicators, OPEN, "openSchemeVersion", id=key1)
    assert opened["ok"] and opened["scheme"]["id"] == f"{sid}:2"
    stale = await call(indicators, OPEN, "openSchemeVersion", id=key1)
    assert codes(stale) == [("schemeId", "not_latest")] and not stale["ok"]
    assert codes(await call(indicators, OPEN, "openSchemeVersion", id=sid)) == [("", "draft_exists")]
    old = await call(indicators, UPDATE, "updateSchemeDraft", id=key1, body=renamed)
    assert codes(old) == [("schemeId", "not_a_draft")] and not old["ok"] and old["scheme"] is None
    assert (await call(indicators, UPDATE, "updateSchemeDraft", id=f"{sid}:2", body=renamed))["ok"]
    assert (await call(indicators, PUBLISH, "publishScheme", id=sid, v=2))["ok"]
    # archiveScheme: both forms.
    assert (await call(indicators, ARCHIVE, "archiveScheme", id=key1))["scheme"]["status"] == "ARCHIVED"
    assert (await call(indicators, ARCHIVE, "archiveScheme", id=sid, v=2))["scheme"]["status"] == "ARCHIVED"
    assert codes(await call(indicators, ARCHIVE, "archiveScheme", id=sid)) == [("version", "version_required")]


async def test_a_malformed_id_is_told_from_an_unknown_one(indicators, tree):
    created = await draft(indicators)
    for malformed in (f"{created['schemeId']}:x", f"{created['schemeId']}:0", "a:1:2", "", " "):
        for query, name, extra in ((PUBLISH, "publishScheme", {"v": 1}), (OPEN, "openSchemeVersion", {})):
            refused = await call(indicators, query, name, id=malformed, **extra)
            assert codes(refused) == [("schemeId", "invalid_id")], (malformed, refused)
            assert "`<scheme id>` or `<scheme id>:<version>`" in refused["problems"][0]["message"]
    # Well-formed but no scheme: not found, as for a scheme outside the caller's reach.
    for unknown in ("GD-12345-2026", "00000000-0000-4000-8000-000000000000:1"):
        assert codes(await call(indicators, PUBLISH, "publishScheme", id=unknown, v=1)) == [("schemeId", "not_found")]


async def test_every_query_takes_the_bare_id_and_the_version_key(indicators, tree):
    created = await draft(indicators)
    sid, key1 = created["schemeId"], created["id"]
    await call(indicators, PUBLISH, "publishScheme", id=key1)
    body = {**created["body"], "name_zh": "改名"}
    await call(indicators, OPEN, "openSchemeVersion", id=sid)
    await call(indicators, UPDATE, "updateSchemeDraft", id=sid, body=body)
    # scheme: the key names the version; bare gives the latest; a version argument must agree with the key.
    assert (await call(indicators, SCHEME, "scheme", id=key1)) == {"id": key1, "version": 1, "status": "PUBLISHED"}
    assert (await call(indicators, SCHEME, "scheme", id=key1, v=1))["version"] == 1
    assert (await call(indicators, SCHEME, "scheme", id=sid))["version"] == 2
    assert (await call(indicators, SCHEME, "scheme", id=sid, v=1))["version"] == 1
    conflict = await gql(indicators, SCHEME, {"id": key1, "v": 2}, headers=PROVINCE)
    assert error_codes(conflict) == ["BAD_REQUEST"]
    assert conflict["errors"][0]["message"] == (
        "the id names version 1 but version is 2: give the version once, or the same twice"
    )
    # An id that cannot name a scheme answers null, like an unknown one.
    assert (await call(indicators, SCHEME, "scheme", id=f"{sid}:x")) is None
    # schemeDiff: the key names the earlier version.
    change = [{"path": "name_zh", "change": "changed"}]
    assert (await call(indicators, DIFF, "schemeDiff", id=key1, t=2)) == change
    assert (await call(indicators, DIFF, "schemeDiff", id=sid, f=1, t=2)) == change
    assert (await call(indicators, DIFF, "schemeDiff", id=key1, f=1, t=2)) == change
    missing = await gql(indicators, DIFF, {"id": sid, "t": 2}, headers=PROVINCE)
    assert error_codes(missing) == ["BAD_REQUEST"] and "fromVersion" in missing["errors"][0]["message"]
    assert error_codes(await gql(indicators, DIFF, {"id": key1, "f": 2, "t": 2}, headers=PROVINCE)) == ["BAD_REQUEST"]
    # exportScheme: both forms give the same document.
    by_key = await call(indicators, EXPORT, "exportScheme", id=f"{sid}:2")
    assert by_key == await call(indicators, EXPORT, "exportScheme", id=sid, v=2)
    assert yaml.safe_load(by_key)["name_zh"] == "改名"
    assert yaml.safe_load(await call(indicators, EXPORT, "exportScheme", id=key1))["version"] == 1
