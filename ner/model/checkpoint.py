"""One checkpoint file of plain data, written atomically and read with ``weights_only=True``.

The file is PyTorch's zip format. :func:`load_arrays` reads it without PyTorch, its tensors as numpy
arrays, for the numpy tagger (``ner.model.numpy_network``): importing torch costs seconds, which a short job
pays in full. So torch is imported here only by the functions that need it.
"""

from __future__ import annotations

import errno
import io
import math
import os
import pickle
import re
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ner.encoding.encode import Encoder
from ner.encoding.vocab import Vocab, WordVocab
from ner.runtime import InputError
from ner.text.gazetteer import Gazetteer

# 2: model_config may hold ``context`` (document windows); 3: ``memory``, and the word embedding in int8
FORMAT_VERSION = 3
READS = (1, 2, 3)  # format 1 is format 2 without context, 2 is 3 without memory (and in half precision)
# Settings a checkpoint of format 1 or 2 has no key for, and what their absence meant: off. (Today's
# defaults are the bundled recipe's, which turns document memory on.)
OLDER_FORMATS_LACK = {"context": 0, "memory": 0}
WORD_SCALE = "word_embed.weight_scale"  # (words,) float32: row i of an int8 word embedding times scale[i]
SCHEMES = ("iob1", "iob2", "iobes")  # as ner.text.tags.Scheme (not imported: it would load more than needed)
REQUIRED = ("format_version", "model_config", "vocab", "scheme", "metadata", "state_dict")


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(words, dim) float -> int8 rows and a float32 scale per row, symmetric: each value is off by at
    most half its row's largest magnitude / 127 (GloVe 50d: the same dev F1 as half precision)."""
    scale = (np.abs(weight).max(axis=1) / 127).astype(np.float32)  # (words,)
    safe = np.where(scale > 0, scale, 1.0)[:, None]  # an all-zero row (padding) stays zero
    return np.clip(np.rint(weight / safe), -127, 127).astype(np.int8), scale


def word_vectors(state: dict[str, Any]) -> np.ndarray:
    """The word embedding of a checkpoint's state dict as float32 (words, dim), whether stored in int8
    with a row scale (format 3) or in half precision (before); the scale is taken out of ``state``."""
    weight = np.asarray(state["word_embed.weight"])
    scale = state.pop(WORD_SCALE, None)
    if scale is None:
        return weight.astype(np.float32)
    return weight.astype(np.float32) * np.asarray(scale, dtype=np.float32)[:, None]


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see half a file."""
    import torch

    def write(f: BinaryIO) -> None:
        try:
            torch.save(obj, f)
        except RuntimeError as exc:  # torch's writer reports a failed write (a full disk) so
            raise OSError(errno.EIO, f"cannot write the checkpoint ({_first_line(exc)})", str(path)) from None

    write_atomic(path, write)


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """``write`` to a file of a unique temporary name beside ``path``, synced, then renamed over it:
    readers see the old file or the new one, never half of one. On any error (a full disk) the
    temporary file is removed and the error raised; one left by a killed process is named
    ``.NAME.*.tmp`` (see :func:`remove_stale_temporaries`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is not
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove what :func:`write_atomic` left beside ``path`` when its process was killed mid-write
    (call it only where no other process writes ``path``). Returns the files removed."""
    target = Path(path)
    stale = sorted(target.parent.glob(f".{target.name}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def load_plain(path: str | Path) -> dict[str, Any]:
    """Load a file written by :func:`save_atomic` without unpickling any code."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError("checkpoint not found", p)
    _verify_zip(p)  # torch.load does not check the CRCs: a flipped bit would load as another weight
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise InputError(f"not a readable checkpoint ({_first_line(exc)})", p) from None
    if not isinstance(obj, dict):
        raise InputError("not a checkpoint: expected a dictionary", p)
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a model checkpoint (see :func:`ner.inference.tagger.Tagger.load`)."""
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


def _verify_zip(path: Path) -> None:
    """Every member of the zip archive against its CRC-32 (about 20 ms for the bundled model)."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(f"not a readable checkpoint ({_first_line(exc)})", path) from None
    if damaged is not None:
        raise InputError(f"damaged checkpoint: {damaged} fails its CRC check", path)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_UNSAFE_ADVICE = ("weights_only", "trust the source", "trusted source", "arbitrary code")


def _first_line(exc: Exception) -> str:
    """What went wrong, in one plain line: PyTorch's messages run to paragraphs, carry terminal
    colour codes, and some advise ``weights_only=False``, which would run whatever code the file
    holds."""
    text = _ANSI.sub("", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    plain = [line for line in lines if not any(a in line.lower() for a in _UNSAFE_ADVICE)]
    first = "".join(c if c.isprintable() else " " for c in (plain[0] if plain else ""))
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


_DTYPES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BoolStorage": np.bool_,
    "ByteStorage": np.uint8,
    "CharStorage": np.int8,
}


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> np.ndarray:
    """A tensor as a numpy array: ``size`` elements of ``storage`` from ``offset`` with ``stride``,
    after checking that every element lies inside the storage (``as_strided`` reads whatever memory
    it is pointed at: a crafted file would crash the process, or read outside the file).

    Raises:
        pickle.UnpicklingError: for a shape, stride or offset that is not plain non-negative
            integers of one length, or that reaches past the storage.
    """
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("a tensor without storage")
    shape_ok = (
        isinstance(size, tuple | list) and isinstance(stride, tuple | list) and len(size) == len(stride)
    )
    numbers = [offset, *size, *stride] if shape_ok else []
    if not shape_ok or not all(type(n) is int and n >= 0 for n in numbers):
        raise pickle.UnpicklingError("a tensor whose shape, strides or offset are not non-negative integers")
    if len(size) > 32:
        raise pickle.UnpicklingError(f"a tensor of {len(size)} dimensions")
    if math.prod(size) > 0:
        last = offset + sum((n - 1) * step for n, step in zip(size, stride))
        if last >= storage.size:
            raise pickle.UnpicklingError(
                f"a tensor reaches element {last} of a storage of {storage.size}: the file is damaged"
            )
    elif offset > storage.size:
        raise pickle.UnpicklingError("a tensor starts past its storage: the file is damaged")
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


TEMPERATURES = (0.05, 20.0)  # a calibration temperature outside these is a damaged or crafted file


def _checked(obj: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """``obj`` if every field that reaches arithmetic or a lookup is what the model needs; else one
    :class:`InputError` naming the field."""
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise InputError(f"not a model checkpoint: missing {', '.join(missing)}", path)
    if obj["format_version"] not in READS:
        raise InputError(
            f"checkpoint format {obj['format_version']!r} is not supported (this version reads "
            f"{', '.join(map(str, READS))})",
            path,
        )
    if isinstance(obj["model_config"], dict):  # what older formats meant by leaving a setting out
        obj["model_config"] = {**OLDER_FORMATS_LACK, **obj["model_config"]}
    problem = _problem(obj)
    if problem:
        raise InputError(f"not a usable checkpoint: {problem}", path)
    return obj


def _problem(obj: dict[str, Any]) -> str | None:
    from ner.model.config import ModelConfig

    config, vocab, scheme, metadata = (obj[k] for k in ("model_config", "vocab", "scheme", "metadata"))
    if not isinstance(config, dict):
        return "model_config is not a table"
    try:
        _, sizes = ModelConfig.of_checkpoint(config)
    except (TypeError, ValueError) as exc:
        return f"model_config: {exc}"
    if not isinstance(vocab, dict) or any(
        not isinstance(vocab.get(k), list) or not all(isinstance(w, str) for w in vocab[k])
        for k in ("words", "chars", "tags")
    ):
        return "vocab must hold lists of strings: words, chars and tags"
    try:
        lists = 0 if vocab.get("gazetteer") is None else len(Gazetteer.of_table(vocab["gazetteer"]).labels)
    except ValueError as exc:
        return f"vocab: {exc}"
    if lists != sizes.lists:
        return f"the model reads {sizes.lists} name lists but the checkpoint holds {lists}"
    if not isinstance(scheme, dict) or any(scheme.get(k) not in SCHEMES for k in ("model", "data")):
        return f"scheme must give 'model' and 'data', each one of {', '.join(SCHEMES)}"
    if not isinstance(metadata, dict):
        return "metadata is not a table"
    calibration = metadata.get("calibration", {})
    temperature = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else None
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        return "metadata.calibration.temperature must be a number"
    if not (math.isfinite(temperature) and TEMPERATURES[0] <= temperature <= TEMPERATURES[1]):
        low, high = TEMPERATURES
        return f"metadata.calibration.temperature must lie in [{low:g}, {high:g}] (got {temperature:g})"
    state = obj["state_dict"]
    if not isinstance(state, dict):
        return "state_dict is not a table"
    for name, value in state.items():
        if not _finite(value):
            return f"state_dict[{name!r}] holds NaN or infinite values"
    return None


def _finite(value: Any) -> bool:
    """Whether a tensor or array (of any dtype) holds only finite numbers; other values pass."""
    if isinstance(value, np.ndarray):
        return not np.issubdtype(value.dtype, np.floating) or bool(np.isfinite(value).all())
    if hasattr(value, "is_floating_point"):  # a torch tensor
        import torch

        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    return True


def encoder_of(obj: dict[str, Any]) -> Encoder:
    """The :class:`ner.encoding.encode.Encoder` of a loaded checkpoint's vocabularies (the first two
    entries of words and characters are the padding and ``<unk>`` that the vocabularies add)."""
    vocab = obj["vocab"]
    lists = vocab.get("gazetteer")
    return Encoder(
        WordVocab(vocab["words"][2:]),
        Vocab(vocab["chars"][2:]),
        Vocab(vocab["tags"], specials=False),
        None if lists is None else Gazetteer.of_table(lists),
    )
