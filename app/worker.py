"""Where the model runs: a thread of the server process, or a process of its own.

In a thread, the model's Python-level loops share the GIL with the event loop, and under load they
starve it. A worker process gives the event loop a core of its own; the price is pickling sentences
and predictions across (small) and a second copy of the model in memory.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from app.batcher import Predict
from ner.inference.tagger import BackendName, Prediction, Tagger
from ner.runtime import die_with_parent, freeze_loaded_objects, release_free_memory, set_compute_threads

TRIM_AFTER_SENTENCES = 64  # a call this large gives its freed memory back (see release_free_memory)
_tagger: Tagger | None = None
_batch_size = 256


def _init(path: str, device: str, threads: int, batch_size: int, parent: int, backend: BackendName) -> None:
    global _tagger, _batch_size
    die_with_parent(parent)  # a server killed with SIGKILL takes its model workers along
    _tagger = Tagger.load(path, device, backend)
    set_compute_threads(threads)
    _batch_size = batch_size
    freeze_loaded_objects()


def _predict(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
    assert _tagger is not None, "worker process not initialised"
    return _predict_and_trim(_tagger, sentences, groups, _batch_size)


def _predict_and_trim(
    tagger: Tagger, sentences: list[list[str]], groups: list[int] | None, batch_size: int
) -> list[Prediction]:
    """One model call; a large one gives its freed memory back (see release_free_memory)."""
    try:
        return tagger.predict(sentences, batch_size, True, groups)
    finally:
        if len(sentences) >= TRIM_AFTER_SENTENCES:
            release_free_memory()


def process_worker(
    path: Path, device: str, threads: int, batch_size: int, backend: BackendName = "torch"
) -> tuple[Callable[[], Executor], Predict]:
    """A factory of one-process pools that load the checkpoint at ``path``, and the function to run."""

    def make() -> Executor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # no forked torch or CUDA state
            initializer=_init,
            initargs=(str(path), device, threads, batch_size, os.getpid(), backend),
        )

    return make, _predict


def thread_worker(tagger: Tagger, batch_size: int) -> tuple[Callable[[], Executor], Predict]:
    """A factory of one-thread pools, and a function that runs ``tagger`` in them."""

    def make() -> Executor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner-model")

    def predict(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
        return _predict_and_trim(tagger, sentences, groups, batch_size)

    return make, predict
