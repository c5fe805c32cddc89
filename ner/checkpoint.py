"""One checkpoint file of plain data, written atomically and read with ``weights_only=True``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ner.errors import InputError

FORMAT_VERSION = 1
REQUIRED = ("format_version", "model_config", "vocab", "scheme", "metadata", "state_dict")


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see half a file."""
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
    p = Path(path)
    if not p.is_file():
        raise InputError("checkpoint not found", p)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise InputError(f"not a readable checkpoint ({type(exc).__name__}: {exc})", p) from None
    if not isinstance(obj, dict):
        raise InputError("not a checkpoint: expected a dictionary", p)
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a model checkpoint (see :func:`ner.tagger.Tagger.load`)."""
    obj = load_plain(path)
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
