"""What every layer shares about the process it runs in: the one exception type public boundaries raise
for bad input, signals, memory given back, worker pools that die with their parent, and the one policy
for devices and worker counts (the service, ``ner tag`` and Ray ask it)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input, located: ``str(error)`` reads ``path:line: what was wrong``."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        where = "" if path is None else f"{path}:" if line is None else f"{path}:{line}:"
        super().__init__(f"{where} {message}" if where else message)
        self.reason = message
        self.path = path
        self.line = line

    def at(self, path: str | Path) -> InputError:
        """The same error, located in ``path`` (for errors found before the file name was known)."""
        return InputError(self.reason, path, self.line)


def unreadable(exc: OSError, path: str | Path) -> InputError:
    """The :class:`InputError` for a file that could not be opened for reading."""
    if isinstance(exc, FileNotFoundError):
        return InputError("file not found", path)
    if isinstance(exc, IsADirectoryError):
        return InputError("is a directory, expected a file", path)
    return InputError(f"cannot read: {exc.strerror}", path)


def freeze_loaded_objects() -> None:
    """Hide everything allocated so far from the garbage collector.

    Importing torch and loading a model leave about 170,000 Python objects, and a full collection
    walks them all: about 0.15 s on a 2-core VM, which tagging triggers every few thousand sentences
    (a latency spike in the service, about a tenth of bulk tagging time). Frozen, they are never
    walked again; objects made afterwards are collected as usual. Call it once, after loading.
    """
    gc.collect()  # what is garbage now would otherwise stay, frozen, for good
    gc.freeze()


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM into a flag (the list of signals caught) that a loop checks between steps,
    so that a long job stops at a point where its output is whole."""
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: object) -> None:
        caught.append(signum)

    try:
        for s in previous:
            signal.signal(s, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


_LIBC: ctypes.CDLL | None = None


def release_free_memory() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; elsewhere a no-op).

    A large batch leaves megabytes of freed arrays that glibc keeps for later, so a process that once
    tagged a big request would look hundreds of MB larger for good; trimming costs about a millisecond."""
    global _LIBC
    if not sys.platform.startswith("linux"):
        return
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6")
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        pass


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """In a worker process started by the process ``parent`` (its pid, passed in by the parent): be
    killed when that process dies, even by SIGKILL. A pool's worker waits on a pipe that it holds both
    ends of, so without this an orphan waits forever. Linux only (elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def kill_pool(executor: Executor) -> None:
    """Shut a process pool down without waiting: its processes are killed first (a hung or stopped
    worker would never take the shutdown message, and a pool that lost a worker waits for it at exit)."""
    processes = getattr(executor, "_processes", None) or {}  # private, but the only handle
    for pid in list(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    executor.shutdown(wait=False, cancel_futures=True)


class WorkerDied(RuntimeError):
    """A worker process ended without an answer (killed, or out of memory)."""


# Devices and worker counts: the service, `ner tag` and Ray ask here, so that they agree.


def gpu_present() -> bool:
    """Whether an NVIDIA GPU is usable here: its device files exist (checked without importing
    torch, which takes seconds) and, where torch is loaded already, CUDA answers."""
    if not (os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")):
        return False
    torch = sys.modules.get("torch")
    return torch is None or bool(torch.cuda.is_available())


def wants_gpu(device: str) -> bool:
    """Whether ``device`` (auto, cpu, cuda, cuda:N) means computing on a GPU."""
    return device.startswith("cuda") or (device == "auto" and gpu_present())


CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "QUOTA PERIOD", or "max PERIOD" for no limit


def cpu_count() -> int:
    """The cores this process may use: those it may run on, and no more than its container's CPU limit
    (a pod limited to 2 CPUs on a 64-core node gets 2, not 64: a worker per node core would share 2
    CPUs and hold 64 models in memory)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path(CGROUP_CPU_MAX).read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))  # rounded up
    except (OSError, ValueError):
        pass  # no cgroup v2 limit to read: the affinity stands
    return cores


def worker_count(device: str, reserve: int = 0, cores: int | None = None, gpus: int = 1) -> int:
    """How many model workers a job runs by default: one per GPU (``gpus``) on a GPU, where the device
    is the parallelism; else one per core (``cores``, default: this machine's), less ``reserve`` cores
    kept for other work (the service's event loop, Ray's readers and writers); at least one."""
    if wants_gpu(device):
        return max(1, gpus)
    return max(1, (cpu_count() if cores is None else cores) - reserve)


def threads_per_worker(workers: int, reserve: int = 1) -> int:
    """Compute threads for each of ``workers`` model workers: one each when there are several (the
    processes are the parallelism), else every core but ``reserve``."""
    return 1 if workers > 1 else max(1, cpu_count() - reserve)


def torch_installed() -> bool:
    """Whether PyTorch can be imported here (without importing it)."""
    import importlib.util

    if "torch" in sys.modules:
        return sys.modules["torch"] is not None  # None: its import is blocked (tests of the slim image)
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def set_compute_threads(threads: int) -> None:
    """PyTorch's CPU threads, where PyTorch is loaded (the numpy backend's BLAS reads
    ``OMP_NUM_THREADS`` as numpy loads)."""
    torch = sys.modules.get("torch")
    if threads and torch is not None:
        torch.set_num_threads(threads)


def resolve_device(name: str) -> Any:
    """The ``torch.device`` for ``name``: ``auto`` is the GPU when there is one, else the CPU; asking
    for a missing GPU is an error. Imports torch.

    Raises:
        InputError: an unknown name, or a GPU asked for where there is none.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} asked for, but no CUDA GPU is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"unknown device {name!r} (expected auto, cpu or cuda)")
    return torch.device(name)
