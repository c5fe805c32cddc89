"""One checkpoint file of plain data, written atomically and read with ``weights_only=True``.

The file is PyTorch's zip format. :func:`load_arrays` reads it without PyTorch, its tensors as numpy
arrays, for the numpy tagger (``ner.numpy_model``): importing torch costs seconds, which a short job
pays in full. So torch is imported here only by the functions that need it.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ner.errors import InputError

FORMAT_VERSION = 1
REQUIRED = ("format_version", "model_config", "vocab", "scheme", "metadata", "state_dict")


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see half a file."""
    import torch

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is not
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_plain(path: str | Path) -> dict[str, Any]:
    """Load a file written by :func:`save_atomic` without unpickling any code."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError("checkpoint not found", p)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise InputError(f"not a readable checkpoint ({_first_line(exc)})", p) from None
    if not isinstance(obj, dict):
        raise InputError("not a checkpoint: expected a dictionary", p)
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a model checkpoint (see :func:`ner.tagger.Tagger.load`)."""
    return _checked(load_plain(path), path)


def load_arrays(path: str | Path) -> dict[str, Any]:
    """:func:`load_checkpoint` without PyTorch: the same dictionary, with numpy arrays for tensors.

    Only what ``torch.save`` writes for plain data and tensors is unpickled (as with
    ``weights_only=True``); anything else is refused."""
    p = Path(path)
    if not p.is_file():
        raise InputError("checkpoint not found", p)
    try:
        with zipfile.ZipFile(p) as archive:
            names = archive.namelist()
            pickled = next((n for n in names if n.endswith("/data.pkl")), None)
            if pickled is None:
                raise ValueError("no data.pkl in the archive")
            root = pickled[: -len("data.pkl")]
            obj = _ArrayUnpickler(io.BytesIO(archive.read(pickled)), archive, root).load()
    except InputError:
        raise
    except Exception as exc:  # a damaged or foreign file fails in many ways
        raise InputError(f"not a readable checkpoint ({_first_line(exc)})", p) from None
    if not isinstance(obj, dict):
        raise InputError("not a checkpoint: expected a dictionary", p)
    return _checked(obj, path)


def _first_line(exc: Exception) -> str:
    """What went wrong, in one line: PyTorch's messages run to paragraphs, and some advise
    ``weights_only=False``, which would run whatever code the file holds."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = next((line for line in lines if "weights_only" not in line), lines[0] if lines else "")
    return f"{type(exc).__name__}: {first[:200]}"


_DTYPES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BoolStorage": np.bool_,
    "ByteStorage": np.uint8,
}


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> np.ndarray:
    """A tensor as a numpy array: ``size`` elements of ``storage`` from ``offset`` with ``stride``."""
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    return np.array(view)  # its own contiguous copy


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles ``torch.save``'s ``data.pkl`` into plain data and numpy arrays, refusing any other
    class (as ``weights_only=True`` does)."""

    def __init__(self, file: io.BytesIO, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(file)
        self._archive = archive
        self._root = root

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")

    def persistent_load(self, pid: Any) -> np.ndarray:
        kind, dtype, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        raw = self._archive.read(f"{self._root}data/{key}")
        return np.frombuffer(raw, dtype=dtype, count=numel)


def _checked(obj: dict[str, Any], path: str | Path) -> dict[str, Any]:
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise InputError(f"not a model checkpoint: missing {', '.join(missing)}", path)
    if obj["format_version"] != FORMAT_VERSION:
        raise InputError(
            f"checkpoint format {obj['format_version']} is not supported (this version reads "
            f"{FORMAT_VERSION})",
            path,
        )
    return obj
