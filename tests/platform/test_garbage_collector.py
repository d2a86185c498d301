"""A service process settles its garbage collector once started (``hotline.kit.app.settle_garbage_collector``): the
start-up's objects frozen, the youngest generation collected less often. Measured in docs/performance.md: full
collections of the start-up's objects stalled every request in flight for 190-260 ms every few seconds under load."""

from __future__ import annotations

import gc

import pytest

from hotline.kit.app import settle_garbage_collector
from hotline.kit.settings import Settings
from tests.support import TEST_SECRET


@pytest.fixture
def collector():
    """Whatever a test does to the process's collector is undone after it (pytest's process runs many apps)."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_a_started_service_freezes_its_start_up_and_collects_the_young_less_often(database_url, collector):
    from services.indicators.app import create_app

    settings = Settings(env="development", database_url=database_url, jwt_secret=TEST_SECRET, gc_young_threshold=9000)
    app = create_app(settings=settings)
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        # The modules, schema and mappers of a service: well over ten thousand objects, none left to be walked.
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == 9000
        # The other generations keep Python's own thresholds.
        assert gc.get_threshold()[1:] == (10, 10)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(env="test", jwt_secret=TEST_SECRET),  # pytest's own process, many apps in turn
        Settings(env="development", jwt_secret=TEST_SECRET, gc_young_threshold=0),  # switched off
    ],
    ids=["tests", "off"],
)
def test_tests_and_a_zero_threshold_leave_the_collector_as_python_has_it(settings, collector):
    before = gc.get_threshold()
    settle_garbage_collector(settings)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
