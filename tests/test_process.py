import gc
import weakref

from ner.runtime import freeze_loaded_objects


class _Node:
    def __init__(self) -> None:
        self.other: object = self  # a reference cycle: only the cyclic collector frees it


def test_freezing_collects_garbage_first_and_hides_the_rest() -> None:
    garbage, kept = _Node(), _Node()
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_loaded_objects()
        assert gone() is None  # collected, not frozen for good
        assert gc.get_freeze_count() > 0
        assert kept.other is kept
    finally:
        gc.unfreeze()
