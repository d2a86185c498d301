"""Validators on the REST reads of results and reports (issue 16): an ``ETag`` and ``Cache-Control`` on every
answer, ``If-None-Match`` answered 304 while nothing changed, and a new tag once a revision or a publication
changes the answer — never a 304 for a caller who may not read it."""

from __future__ import annotations

import pytest

from tests.scoring.test_appeals_api import service
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, finished_run, results_by_unit
from tests.support import auth

ADJUST = {
    "appeal_id": "appeal-etag",
    "reason": "the wait was mis-measured",
    "adjustments": [{"kind": "correct_value", "unit": "UB", "indicator": "average_answer_wait", "value": 12.5}],
}


def validated(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    assert "authorization" in response.headers["vary"].lower()
    return response.headers["etag"]


async def test_a_result_is_served_with_a_validator_that_moves_with_publication_and_revisions(scoring, drain):
    run = await finished_run(scoring, drain)
    path = f"/results/{results_by_unit(run)['UB']['id']}"
    pending = validated(await scoring.get(path, headers=service("UB")))  # unpublished: the facts only
    await publish(scoring, run["id"])
    published = validated(await scoring.get(path, headers=service("UB")))
    assert published != pending  # the publication changed the answer, so its tag
    same = await scoring.get(path, headers={**service("UB"), "if-none-match": published})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == published
    assert (
        await scoring.get(path, headers={**service("UB"), "if-none-match": f'"other", W/{published}'})
    ).status_code == 304
    # The unit's own user reads it too; another unit with the tag in hand learns nothing: 404, as for a stranger.
    assert (await scoring.get(path, headers={**auth("UB", "unit"), "if-none-match": published})).status_code == 304
    stranger = await scoring.get(path, headers={**service("UA"), "if-none-match": published})
    assert stranger.status_code == 404 and "etag" not in stranger.headers
    # An appeal's revision changes the figures: the old tag no longer matches.
    made = await scoring.post(f"/runs/{run['id']}/revisions", json=ADJUST, headers=service("GD-GZ"))
    assert made.status_code == 201, made.text
    revised = await scoring.get(path, headers={**service("UB"), "if-none-match": published})
    assert validated(revised) != published and revised.json()["revision"] == 2


@pytest.mark.parametrize("kind", ["xlsx", "html", "pdf"])
async def test_a_report_is_answered_304_until_its_run_changes(scoring, drain, kind):
    run = await finished_run(scoring, drain)
    path = f"/runs/{run['id']}/report.{kind}"
    first = await scoring.get(path, headers=ORGANIZER)
    tag = validated(first)
    assert tag.startswith('W/"') and len(first.content) > 100  # weak: the same data, the file rendered anew
    same = await scoring.get(path, headers={**ORGANIZER, "if-none-match": tag})
    assert same.status_code == 304 and same.content == b""
    # Not the organizer's side: refused as before, whatever the tag.
    assert (await scoring.get(path, headers={**auth("UB", "unit"), "if-none-match": tag})).status_code == 404
    await publish(scoring, run["id"])
    after = await scoring.get(path, headers={**ORGANIZER, "if-none-match": tag})
    assert validated(after) != tag and len(after.content) > 100
    made = await scoring.post(f"/runs/{run['id']}/revisions", json=ADJUST, headers=service("GD-GZ"))
    assert made.status_code == 201, made.text
    revised = await scoring.get(path, headers={**ORGANIZER, "if-none-match": after.headers["etag"]})
    assert validated(revised) not in (tag, after.headers["etag"])
