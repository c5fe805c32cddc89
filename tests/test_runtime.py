"""The process-wide runtime (:mod:`ner.runtime`): signals, memory, and the device and worker policy."""

import gc
import weakref

import pytest
import torch

from ner.runtime import InputError, freeze_loaded_objects, resolve_device


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


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_worker_counts_follow_the_device_and_the_cores(monkeypatch) -> None:
    from ner import runtime

    monkeypatch.setattr(runtime, "cpu_count", lambda: 8)
    monkeypatch.setattr(runtime, "gpu_present", lambda: False)
    assert runtime.worker_count("auto") == 8  # ner tag: every core
    assert runtime.worker_count("auto", reserve=1) == 7  # the service: the event loop keeps one
    assert runtime.worker_count("cpu", reserve=1, cores=1) == 1  # never none
    assert runtime.worker_count("cuda") == 1 and runtime.worker_count("cuda", gpus=4) == 4
    monkeypatch.setattr(runtime, "gpu_present", lambda: True)
    assert runtime.wants_gpu("auto") and not runtime.wants_gpu("cpu")
    assert runtime.worker_count("auto") == 1  # one GPU, one worker
    assert runtime.threads_per_worker(3) == 1 and runtime.threads_per_worker(1) == 7


def test_the_cpu_count_respects_a_containers_cpu_limit(monkeypatch, tmp_path) -> None:
    from ner import runtime

    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda _: set(range(64)), raising=False)
    limit = tmp_path / "cpu.max"
    monkeypatch.setattr(runtime, "CGROUP_CPU_MAX", str(limit))
    assert runtime.cpu_count() == 64  # no file: the affinity
    limit.write_text("max 100000\n")
    assert runtime.cpu_count() == 64  # no limit
    limit.write_text("200000 100000\n")
    assert runtime.cpu_count() == 2
    limit.write_text("150000 100000\n")
    assert runtime.cpu_count() == 2  # 1.5 CPUs: rounded up
    limit.write_text("5000 100000\n")
    assert runtime.cpu_count() == 1
