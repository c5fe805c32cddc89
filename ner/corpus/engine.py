"""Tagging a corpus: records in, records with entities out, in input order, streamed in chunks.

One pipeline, three drivers (``docs/corpus.md``). Records are read as raw lines and cut into chunks of
whole records; :class:`ChunkWork` turns a chunk into its output lines (decoding, tokenising, tagging
the sentences of all its records together, writing); :func:`tag_chunks` runs chunks in this process or
in worker processes, a bounded number in flight, and yields the results in input order. Memory is
bounded by the chunks in flight, never by the input.

The formats and the reading of records: :mod:`ner.corpus.formats`. :func:`tag_file` is the local
engine (``ner tag``): a file in, a file out, safely, on every core.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ner.corpus.formats import (
    Chunk,
    ChunkResult,
    Format,
    Job,
    OutputFormat,
    detect_format,
    parse_record,
    read_chunks,
    skip_done,
)
from ner.inference.annotate import entities
from ner.inference.pipeline import prepare_split
from ner.inference.tagger import Tagger
from ner.runtime import InputError, WorkerDied, kill_pool, wants_gpu, worker_count
from ner.text.conll import DOCSTART
from ner.text.results import Prediction
from ner.text.tokenize import Token, Tokenizer, join_tokens

log = logging.getLogger(__name__)


class ChunkWork:
    """Turns chunks into output lines with one tagger; one per process."""

    def __init__(self, tagger: Tagger, job: Job) -> None:
        self.tagger = tagger
        self.job = job
        self.tokenizer = Tokenizer(job.sentence_tokens, tagger.tokenizer_style)  # the model's own

    def __call__(self, chunk: Chunk) -> ChunkResult:
        result = ChunkResult("", input_bytes=sum(len(line) + 1 for line in chunk.lines))
        if self.job.input_format == "conll":
            result.text = self._conll(chunk, result)
        else:
            result.text = self._texts(chunk, result)
        return result

    def tag_texts(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """Entities of each text, as ``POST /tag`` gives them, all sentences in shared batches."""
        found = self.tagger.tag_texts(texts, self.tokenizer, self.job.batch_size)
        return [[vars(e) for e in ents] for ents in found]

    def _entities(self, texts: list[str], split: list[list[list[Token]]]) -> list[list[dict[str, Any]]]:
        found = self.tagger.tag_prepared(prepare_split(self.tagger, texts, split), self.job.batch_size)
        return [[vars(e) for e in ents] for ents in found]  # the dictionaries POST /tag gives

    def _texts(self, chunk: Chunk, result: ChunkResult) -> str:
        records: list[dict[str, Any]] = []
        texts: list[str] = []
        split: list[list[list[Token]]] = []
        field = "text" if self.job.input_format == "text" else self.job.text_field
        for i, raw in enumerate(chunk.lines):
            number = chunk.first_line + i
            try:
                record = parse_record(raw, number, self.job)
                if record is None:
                    continue
                sentences = self._sentences(record[field], number)
            except InputError as exc:
                if not self.job.skip_bad:
                    result.error = (number, exc.reason)
                    break
                result.bad.append((number, exc.reason))
                continue
            records.append(record)
            texts.append(record[field])
            split.append(sentences)
        found = self._entities(texts, split)
        result.records = len(records)
        result.tokens = sum(len(s) for sentences in split for s in sentences)
        shape = self.job.output_format
        if shape == "labelstudio":
            out = [labelstudio_task(r, field, e, self.tagger.name) for r, e in zip(records, found)]
        elif shape == "doccano":
            out = [doccano_record(r, field, e) for r, e in zip(records, found)]
        else:
            out = [{**record, "entities": ents} for record, ents in zip(records, found)]
        return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out)

    def _sentences(self, text: str, number: int) -> list[list[Token]]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, from a "\ud800" escape in JSON
            raise InputError(
                f"text holds a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start + 1})",
                line=number,
            ) from None
        return self.tokenizer.sentences(text)

    def _conll(self, chunk: Chunk, result: ChunkResult) -> str:
        lines: list[str] = []
        sentences: list[list[int]] = []  # indices into lines of each sentence's token lines
        starts: list[int] = [0]  # the first sentence of each document in the chunk
        current: list[int] = []
        for i, raw in enumerate(chunk.lines):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # CoNLL lines are never skipped: that would shift them
                result.error = (chunk.first_line + i, f"not UTF-8 (byte {exc.start + 1} of the line)")
                break
            lines.append(line)
            stripped = line.strip()
            if not stripped or stripped.startswith(DOCSTART):
                if current:
                    sentences.append(current)
                current = []
                if stripped and starts[-1] != len(sentences):
                    starts.append(len(sentences))  # a -DOCSTART- after sentences: a new document
            else:
                current.append(i)
        if current and result.error is None:
            sentences.append(current)
        if result.error is not None and current:  # keep the whole sentences before the bad line
            lines = lines[: current[0]]
        tokens = [[lines[i].split(maxsplit=1)[0] for i in s] for s in sentences]
        result.records = len(sentences)
        result.tokens = sum(map(len, tokens))
        bounds = [*starts, len(sentences)]
        documents = [tokens[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        read = self.tagger.predict_documents(documents, batch_size=self.job.batch_size)
        predictions = [p for d in read for p in d]
        if self.job.output_format == "jsonl":
            return self._conll_as_jsonl(chunk, sentences, tokens, predictions)
        predicted = [p.tags for p in predictions]
        for s, tags in zip(sentences, predicted):
            for i, tag in zip(s, tags):
                line = lines[i].rstrip()
                lines[i] = line + ("\t" if "\t" in line else " ") + tag
        return "".join(line + "\n" for line in lines)

    def _conll_as_jsonl(
        self, chunk: Chunk, sentences: list[list[int]], tokens: list[list[str]], read: list[Prediction]
    ) -> str:
        joined = [join_tokens(t) for t in tokens]
        found = [
            [vars(e) for e in entities(text, [toks], [prediction])]
            for (text, toks), prediction in zip(joined, read)
        ]
        return "".join(
            json.dumps({"line": chunk.first_line + s[0], "tokens": t, "entities": e}, ensure_ascii=False)
            + "\n"
            for s, t, e in zip(sentences, tokens, found)
        )


def labelstudio_task(
    record: dict[str, Any], field: str, found: list[dict[str, Any]], model: str
) -> dict[str, Any]:
    """A Label Studio task holding the record (its text as ``data.text``, as a ``<Text value="$text">``
    labelling config reads it) and the model's entities as a prediction to correct: ``Labels`` named
    ``label`` on ``text``, each with its score, and the task's score the least sure entity's (Label
    Studio sorts tasks by it)."""
    data = {k: v for k, v in record.items() if k != field} | {"text": record[field]}
    result = [
        {
            "id": f"e{k}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": e["start"], "end": e["end"], "text": e["text"], "labels": [e["label"]]},
            "score": e["score"],
        }
        for k, e in enumerate(found)
    ]
    score = min((e["score"] for e in found), default=1.0)
    return {"data": data, "predictions": [{"model_version": model, "score": score, "result": result}]}


def doccano_record(record: dict[str, Any], field: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    """A doccano sequence-labelling record: ``text`` and ``label`` triples, the record's other fields
    kept (doccano shows them as metadata), each entity's score in ``scores``."""
    rest = {k: v for k, v in record.items() if k not in (field, "label")}
    labels = [[e["start"], e["end"], e["label"]] for e in found]
    return rest | {"text": record[field], "label": labels, "scores": [e["score"] for e in found]}


_WORKER: ChunkWork | None = None  # the tagger of a worker process, set before it forks or as it starts


def _init_worker(tagger_path: str | None, device: str, job: Job, parent: int) -> None:
    import signal
    import sys

    from ner.runtime import die_with_parent

    die_with_parent(parent)  # a parent killed with SIGKILL takes its workers along
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    global _WORKER
    if tagger_path is not None:  # started fresh (spawn, for a GPU): load the model here
        from ner.inference.tagger import Tagger

        _WORKER = ChunkWork(Tagger.load(tagger_path, device), job)
    if "torch" in sys.modules:  # one thread per process: the processes are the parallelism
        sys.modules["torch"].set_num_threads(1)


def _work_in_worker(chunk: Chunk) -> ChunkResult:
    assert _WORKER is not None, "worker process started without a tagger"
    return _WORKER(chunk)


def worker_pool(work: ChunkWork, workers: int, tagger_path: str, device: str) -> Executor:
    """``workers`` processes with one model on one thread each. On the CPU they are forked from this
    one and share its loaded model (copy-on-write); a GPU cannot be forked, so each loads its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORKER
    on_gpu = work.tagger.device != "cpu"
    _WORKER = None if on_gpu else work
    context = multiprocessing.get_context("spawn" if on_gpu else "fork")
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(tagger_path if on_gpu else None, device, work.job, os.getpid()),
    )


def tag_chunks(
    chunks: Iterable[Chunk],
    work: Callable[[Chunk], ChunkResult],
    executor: Executor | None = None,
    in_flight: int = 4,
) -> Iterator[ChunkResult]:
    """Results of ``work`` for each chunk, in input order.

    Without an ``executor``, ``work`` tags the chunks here, one at a time. With one (made by
    :func:`worker_pool`, whose processes hold their own copy of ``work``), up to ``in_flight`` chunks are
    submitted ahead of the one awaited, so memory stays bounded however long the input.
    """
    if executor is None:
        yield from map(work, chunks)
        return
    pending: deque[Future[ChunkResult]] = deque()
    try:
        for chunk in chunks:
            pending.append(executor.submit(_work_in_worker, chunk))
            if len(pending) >= in_flight:
                yield _result(pending.popleft(), executor)
        while pending:
            yield _result(pending.popleft(), executor)
    finally:
        for future in pending:
            future.cancel()


def _result(future: Future[ChunkResult], executor: Executor) -> ChunkResult:
    """The chunk's result, or :class:`WorkerDied` once any worker has died. Python's pool can hang for
    good when a worker dies while the pool's pipe is full (its cleanup waits on the dead reader), so
    the workers are looked at every half second rather than trusting the pool to notice."""
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            processes = getattr(executor, "_processes", None) or {}  # private, but the only handle
            if all(p.exitcode is None for p in list(processes.values())):
                continue
        except BrokenExecutor:
            pass
        kill_pool(executor)  # the others too: a pool that lost a process would wait for it at exit
        raise WorkerDied("a worker process died (killed, or out of memory) before it finished its chunk")


# Input bytes per worker below which the numpy backend finishes first: it starts 3 s sooner, PyTorch
# then tags 1.5x faster; the two cross at about 1 MB a worker (docs/corpus.md).
NUMPY_BELOW_BYTES = 1_000_000


@dataclass(frozen=True)
class TagRun:
    """What ``ner tag`` (local engine) is asked to do; see :func:`tag_file`."""

    input: str  # a file, or - for stdin
    output: str  # a file, or - for stdout
    model: Path | None = None  # None: the bundled model
    format: Format | None = None  # None: from the input's name (text for stdin)
    output_format: OutputFormat | None = None  # None: conll for conll, unless named .jsonl
    text_field: str = "text"
    skip_bad: bool = False
    batch_size: int = 256
    workers: int | None = None  # None: the runtime's default for the device
    backend: Literal["auto", "numpy", "torch", "onnx"] = "auto"  # auto: numpy for small inputs on the CPU
    device: str = "auto"
    resume: bool = False
    force: bool = False


@dataclass
class TagReport:
    """What a run of :func:`tag_file` did."""

    records: int = 0
    tokens: int = 0
    bad: int = 0  # records skipped (``skip_bad``)
    seconds: float = 0.0
    signal: int | None = None  # the signal that stopped the run early (the partial output stays)
    partial: Path | None = None  # where a stopped run's output is (for --resume)


Progress = Callable[[int, int, int], None]  # (input bytes done, records, tokens) after each chunk


def plan_backend(run: TagRun, workers: int, input_bytes: int | None) -> Literal["numpy", "torch", "onnx"]:
    """The backend a run uses: as asked, or for ``auto`` numpy where it finishes first (a small input
    per worker, on the CPU), PyTorch otherwise.

    Raises:
        InputError: numpy asked for on a GPU.
    """
    cuda = wants_gpu(run.device)
    if run.backend == "auto":
        small = input_bytes is None or input_bytes < NUMPY_BELOW_BYTES * workers
        return "numpy" if small and not cuda else "torch"
    if run.backend in ("numpy", "onnx") and cuda:
        raise InputError(f"--backend {run.backend} runs on the CPU only; use --backend torch for a GPU")
    return run.backend


def tag_file(run: TagRun, progress: Progress | None = None) -> TagReport:
    """Tag ``run.input`` into ``run.output`` in this process or in worker processes: records in input
    order, the output named only once complete (``OUTPUT.partial`` until then; ``resume`` carries on
    from it), a signal stops it cleanly with the partial output kept.

    Raises:
        InputError: bad options or input (located by file and line); a bad record stops the run
            unless ``skip_bad``, with the output up to it kept for ``resume``.
        WorkerDied: a worker process died (the partial output is kept).
    """
    from ner.corpus.files import Output, check_output, first_line, open_input, partial_path
    from ner.model.bundled import default_model_path
    from ner.runtime import freeze_loaded_objects, stop_on_signals

    if run.workers is not None and run.workers < 1:
        raise InputError(f"--workers must be at least 1, got {run.workers}")
    if run.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {run.batch_size}")
    workers = run.workers or worker_count(run.device)
    if workers > 1:  # the processes are the parallelism: one BLAS thread each (read as numpy loads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
    check_output(run.output, [run.input], run.force, run.resume)
    stream = open_input(run.input)
    fmt = run.format or ("text" if run.input == "-" else detect_format(run.input, first_line(stream)))
    as_jsonl = run.output.removesuffix(".gz").endswith(".jsonl")
    out_format = run.output_format or ("conll" if fmt == "conll" and not as_jsonl else "jsonl")
    job = Job(fmt, out_format, run.text_field, run.skip_bad, batch_size=run.batch_size)
    file_bytes = None if run.input == "-" else os.path.getsize(run.input)
    backend = plan_backend(run, workers, file_bytes)
    log.info(
        "reading %s as %s, writing %s; %d workers, %s backend", run.input, fmt, out_format, workers, backend
    )
    model = run.model or default_model_path()
    work = ChunkWork(Tagger.load(model, run.device, backend), job)
    freeze_loaded_objects()
    output = Output(run.output, resume=run.resume, force=run.force, inputs=(run.input,))
    chunks = _located(read_chunks(stream, fmt), run.input)
    kept = 0
    if run.resume:
        try:
            kept, chunks = skip_done(chunks, job, output.kept_lines)
        except InputError as exc:
            raise exc.at(run.input) from None
        output.keep_lines(kept)
        log.info("resuming after %d lines of %s", kept, partial_path(Path(run.output)))
    pool = worker_pool(work, workers, str(model), run.device) if workers > 1 else None
    # Label Studio imports a JSON array: one task a line, the first after "[", the others after ","
    array = out_format == "labelstudio"
    opened = kept > 0  # tasks already in the partial output
    report = TagReport()
    done_bytes = 0
    started = time.monotonic()
    stopped: InputError | None = None
    finished = False
    with stop_on_signals() as caught:
        try:
            for result in tag_chunks(chunks, work, pool):
                text = result.text
                if array and text:
                    lines = text.splitlines(keepends=True)
                    text = "".join(("," if opened or k else "[") + line for k, line in enumerate(lines))
                    opened = True
                output.write(text)
                report.records += result.records
                report.tokens += result.tokens
                for line, reason in result.bad:
                    report.bad += 1
                    if report.bad <= 10:
                        log.warning("%s:%d: skipped: %s", run.input, line, reason)
                if result.error is not None:
                    stopped = InputError(result.error[1], run.input, result.error[0])
                    break
                done_bytes += result.input_bytes
                if progress is not None:
                    progress(done_bytes, report.records, report.tokens)
                if caught:
                    break
            else:
                finished = True
        finally:
            if pool is not None:
                pool.shutdown(wait=finished, cancel_futures=True)
            if finished and not caught:
                if array:
                    output.write("]\n" if opened else "[]\n")
                output.finish()  # the output gets its name only here, after a complete write
            else:
                output.close()  # stopped, or failed (a full disk, a dead worker): the partial file stays
    report.seconds = time.monotonic() - started
    if stopped is not None:
        where = "" if output.partial is None else f"; the output up to it is in {output.partial}"
        raise InputError(f"{stopped.reason}{where} (fix the input, then --resume)", run.input, stopped.line)
    if caught:
        report.signal, report.partial = caught[0], output.partial
        return report
    log.info(
        "tagged %d records, %d tokens in %.1f s (%.0f tokens/s); wrote %s",
        report.records, report.tokens, report.seconds, report.tokens / max(report.seconds, 1e-9), run.output,
    )  # fmt: skip
    if report.bad:
        log.warning("skipped %d bad records (the first %d are named above)", report.bad, min(report.bad, 10))
    if report.records == 0 and not report.bad:
        log.warning("%s holds no records: the output is empty", run.input)
    return report


def _located(chunks: Iterator[Chunk], name: str) -> Iterator[Chunk]:
    """``chunks``, with the errors of reading them located in the file ``name``."""
    try:
        yield from chunks
    except InputError as exc:
        raise exc.at(name) from None
