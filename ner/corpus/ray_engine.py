"""``ner tag --engine ray``: the corpus pipeline as a Ray Data stage, for more than one machine.

Ray Data reads the input files (JSON Lines, plain text or Parquet; a file or a folder), hands blocks of
records to a pool of actors that each hold one :class:`~ner.inference.tagger.Tagger`, and writes one
output shard per block into the output folder. Each record is tagged by
:meth:`ner.corpus.engine.ChunkWork.tag_texts`, the code the local engine and ``POST /tag`` use, so
the entities are the same. Ray is an optional extra (``pip install 'ner-service[ray]'``), imported
only here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ner.corpus.formats import format_of_name
from ner.model.checkpoint import load_checkpoint
from ner.runtime import InputError, wants_gpu, worker_count

log = logging.getLogger(__name__)

ENTITY_FIELDS = (
    ("text", "string"),
    ("label", "string"),
    ("start", "int64"),
    ("end", "int64"),
    ("score", "float64"),
    ("token_start", "int64"),
    ("token_end", "int64"),
)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError("the Ray engine needs Ray Data: pip install 'ner-service[ray]'") from None
    return ray


class RayWorker:
    """One actor: a tagger built from the checkpoint in the object store, tagging Arrow blocks."""

    def __init__(self, checkpoint: Any, device: str, text_field: str, batch_size: int) -> None:
        import ray
        import torch

        from ner.corpus.engine import ChunkWork
        from ner.corpus.formats import Job
        from ner.inference.tagger import Tagger
        from ner.model.torch_backend import load_torch_backend
        from ner.runtime import resolve_device

        if device == "cpu" or not torch.cuda.is_available():
            torch.set_num_threads(1)  # one actor per CPU: threads would fight each other
        if isinstance(checkpoint, ray.ObjectRef):
            checkpoint = ray.get(checkpoint)
        self.field = text_field
        tagger = Tagger.of_checkpoint(checkpoint, load_torch_backend(checkpoint, resolve_device(device)))
        self.work = ChunkWork(tagger, Job("jsonl", "jsonl", text_field, batch_size=batch_size))

    def __call__(self, block: Any) -> Any:
        import pyarrow as pa

        if self.field not in block.column_names:
            raise InputError(f"the input has no {self.field!r} column (columns: {block.column_names})")
        texts = block.column(self.field).to_pylist()
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"record {i} of a block: {self.field!r} is {type(text).__name__}, not text")
        entity = pa.struct([(name, pa.type_for_alias(kind)) for name, kind in ENTITY_FIELDS])
        found = pa.array(self.work.tag_texts(texts), type=pa.list_(entity))
        return block.append_column("entities", found)


def _input_format(path: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    p = Path(path)
    names = (
        [p.name] if p.is_file() else sorted(x.name for x in p.iterdir() if x.is_file()) if p.is_dir() else []
    )
    if not names:
        raise InputError("no input files found", path)
    found = format_of_name(names[0])
    if found is not None:
        return found
    raise InputError(f"cannot tell the format of {names[0]!r}; pass --format", path)


def _input_error_in(exc: BaseException) -> InputError | None:
    """The :class:`InputError` an actor raised, wherever Ray wrapped it: as the ``cause`` of a task
    error or in an exception chain, or (across processes Ray Data keeps only the remote traceback) as
    the last line of the traceback that names it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InputError):
            return current
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__ or current.__context__
    named = re.findall(r"^ner\.runtime\.InputError: (.+)$", str(exc), flags=re.M)
    return InputError(named[-1]) if named else None


def tag_with_ray(
    inputs: str,
    output: str,
    model: str | Path,
    fmt: str | None = None,
    text_field: str = "text",
    workers: int | None = None,
    device: str = "cpu",
    address: str | None = None,
    batch_size: int = 256,
    force: bool = False,
    block_records: int = 4096,
) -> None:
    """Tag ``inputs`` (a file or folder) into the folder ``output`` with Ray Data.

    Args:
        workers: tagger actors (default: one per CPU of the cluster but one, or one per GPU).
        address: an existing cluster (``ray://host:10001`` or ``auto``); default: a local Ray.
        block_records: records per ``map_batches`` batch.

    Raises:
        InputError: Ray missing, a bad model or input, or an output folder that exists without
            ``force``.
    """
    ray = _import_ray()
    fmt = _input_format(inputs, fmt)
    out = Path(output)
    staging_path = out.with_name(f".{out.name}.partial")
    for path in (out, staging_path):
        if path.is_symlink():
            raise InputError("is a symlink: refusing to write through it", path)
    source = Path(inputs).resolve()
    if out.resolve() == source or out.resolve() in source.parents:
        raise InputError("holds the input: give another output folder", output)
    if out.exists():
        if not force:
            raise InputError("already exists (pass --force to replace it)", output)
        if not out.is_dir():
            raise InputError("exists and is not a folder; the Ray engine writes a folder of shards", output)
    checkpoint = load_checkpoint(model)  # one clear error here rather than one per actor
    gpu = wants_gpu(device)
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    # The actors hold their CPUs for the whole run, and Ray Data's read and write tasks need one more:
    # a pool that takes every CPU waits forever.
    cpus = int(ray.cluster_resources().get("CPU", 1))
    if workers is None:
        gpus = int(ray.cluster_resources().get("GPU", 1))
        workers = worker_count(device, reserve=1, cores=cpus, gpus=gpus)  # one CPU reads and writes
    elif not gpu and workers >= cpus:
        raise InputError(
            f"--workers {workers} leaves none of the cluster's {cpus} CPUs for reading and writing; "
            f"give at most {max(1, cpus - 1)}"
        )
    read = {
        "jsonl": lambda: ray.data.read_json(inputs, lines=True),
        "parquet": lambda: ray.data.read_parquet(inputs),
        "text": lambda: ray.data.read_text(inputs),
    }
    if fmt not in read:
        raise InputError(f"the Ray engine reads jsonl, text or parquet, not {fmt}", inputs)
    if fmt == "text":
        text_field = "text"
    dataset = read[fmt]().map_batches(
        RayWorker,
        fn_constructor_kwargs={
            "checkpoint": ray.put(checkpoint),
            "device": "cuda" if gpu else "cpu",
            "text_field": text_field,
            "batch_size": batch_size,
        },
        batch_size=block_records,
        batch_format="pyarrow",
        concurrency=workers,
        num_cpus=0 if gpu else 1,
        num_gpus=1 if gpu else 0,
    )
    # A local run writes beside the output and renames, so a failed run leaves no half folder; on a
    # cluster the workers write where the output names (a shared or object-store path).
    staging = staging_path if address is None else out
    shutil.rmtree(staging, ignore_errors=True) if address is None else None
    try:
        if str(output).removesuffix("/").endswith(".parquet"):
            dataset.write_parquet(str(staging))
        else:
            dataset.write_json(str(staging), force_ascii=False)
    except Exception as exc:
        found = _input_error_in(exc)
        if found is None:
            raise
        if address is None:
            shutil.rmtree(staging, ignore_errors=True)
        raise InputError(found.reason, inputs) from None
    if staging != out:
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    log.info("wrote %s", output)
