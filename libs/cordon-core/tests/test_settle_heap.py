"""A running service's startup objects are kept out of the garbage collector's way."""

import gc
from collections.abc import Iterator

import pytest

from cordon_core.http import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_settle_heap_freezes_the_startup_objects_and_widens_the_young_generation() -> None:
    # Count live objects only: garbage left by earlier tests in this process (Hypothesis
    # runs) is freed by settle_heap's collection, not frozen.
    gc.collect()
    startup_objects = len(gc.get_objects())

    settle_heap()

    assert gc.get_freeze_count() >= startup_objects * 0.9
    assert len(gc.get_objects()) < startup_objects * 0.1, "frozen objects are not walked"
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
