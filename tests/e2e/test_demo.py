"""What `hotline up` shows: the demo data through the real ingest path, then a demo evaluation made
through the gateway — scheme published, run computed from the real Boston 311 records, run published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from hotline.cli.demo import load_demo_records, load_demo_units
from hotline.cli.demo_evaluation import DEPARTMENTS, seed_demo_evaluation
from hotline.cli.stack import Stack
from tests.e2e.conftest import private_stack
from tests.support import TEST_SECRET, auth, data_of, gql


@pytest.fixture(scope="module")
async def demo_stack(fresh_database, tmp_path_factory) -> AsyncIterator[Stack]:
    url = await fresh_database("hotline_demo_e2e")
    await load_demo_units(url)
    await load_demo_records(url)
    system = private_stack(url, tmp_path_factory.mktemp("demo-logs"))
    await asyncio.to_thread(system.start)
    yield system
    await asyncio.to_thread(system.stop)


async def test_the_demo_evaluation_is_published_and_seen_by_the_units(demo_stack):
    first = await asyncio.to_thread(seed_demo_evaluation, demo_stack.gateway_url, TEST_SECRET)
    assert first["problems"] == [], first
    again = await asyncio.to_thread(seed_demo_evaluation, demo_stack.gateway_url, TEST_SECRET)
    assert again["run"] == first["run"] and again["scheme"] == first["scheme"]  # idempotent

    query = """query($id: ID!) { run(id: $id) { status publishedAt results(first: 20) { edges { node {
        unitId total rank grade { code } indicators { indicator value applicable } } } } } }"""
    async with httpx.AsyncClient(base_url=demo_stack.gateway_url, timeout=30) as gateway:
        run = data_of(await gql(gateway, query, {"id": first["run"]}, headers=auth("GD-GZ", "organizer")))["run"]
        assert run["status"] == "done" and run["publishedAt"]
        results = {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}
        assert set(results) == set(DEPARTMENTS)
        # Real 2022 orders reach every department that Boston's departments map to: values, not N/A.
        urban = {i["indicator"]: i for i in results["GZ-URBANMGMT"]["indicators"]}
        assert urban["on_time_closure_rate"]["applicable"] and 0 < urban["on_time_closure_rate"]["value"] <= 100
        assert sorted(r["rank"] for r in results.values() if r["rank"])[0] == 1

        # The undertaking unit sees its own published result through its own token, not a sibling's.
        mine = """{ me { unit { id results { unitId total } } } }"""
        seen = data_of(await gql(gateway, mine, headers=auth("GZ-HOUSING", "unit")))["me"]["unit"]["results"]
        assert [r["unitId"] for r in seen] == ["GZ-HOUSING"]


async def test_every_explained_score_of_the_demo_run_recomputes_from_its_own_numbers(demo_stack):
    """The demo evaluation, run through the gateway on the real Boston 311 orders: each applicable indicator's
    Chinese and English explanation states numbers from which the score is recomputed by hand (issue 14)."""
    from tests.scoring.explanations import check

    seeded = await asyncio.to_thread(seed_demo_evaluation, demo_stack.gateway_url, TEST_SECRET)
    query = """query($id: ID!) { run(id: $id) { results(first: 20) { edges { node { unitId total
        indicators { indicator applicable naReason value points score direction rule { type params }
          reference { value policy setBy } explanation { zh en calculation } } } } } } }"""
    async with httpx.AsyncClient(base_url=demo_stack.gateway_url, timeout=30) as gateway:
        run = data_of(await gql(gateway, query, {"id": seeded["run"]}, headers=auth("GD-GZ", "organizer")))["run"]
    checked, rules = 0, set()
    for edge in run["results"]["edges"]:
        for row in edge["node"]["indicators"]:
            text = row["explanation"]
            if not row["applicable"]:
                assert row["naReason"] and text["calculation"]["applicable"] is False
                continue
            numbers = check(row, text["zh"], text["en"])
            assert (text["calculation"]["value"], text["calculation"]["score"]) == (numbers["value"], numbers["score"])
            checked, rules = checked + 1, rules | {(row["rule"]["type"], row["direction"])}
    # The demo's rules: on-time closure (ratio, higher), overall closure (threshold), resolution time (ratio, lower).
    assert checked >= 10 and ("ratio_to_reference", "lower_better") in rules and ("threshold", "higher_better") in rules
