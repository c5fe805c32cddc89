"""Tagging a corpus: records in, records with entities out, in input order, streamed in chunks.

One pipeline, three drivers (``docs/corpus.md``). Records are read as raw lines and cut into chunks of
whole records; :class:`ChunkTagger` turns a chunk into its output lines (decoding, tokenising, tagging
the sentences of all its records together, writing); :func:`tag_chunks` runs chunks in this process or
in worker processes, a bounded number in flight, and yields the results in input order. Memory is
bounded by the chunks in flight, never by the input.

Formats:

- ``jsonl``: one JSON object per line; ``text_field`` names the text, every other field passes through,
  and the output record is the input's fields plus ``entities``, each in the shape of a ``POST /tag``
  entity (character offsets into the text). Blank lines hold no record.
- ``text``: one text per line; the output record is ``{"text": ..., "entities": [...]}``.
- ``conll``: token lines (token first, any columns after), blank lines between sentences, ``-DOCSTART-``
  lines; the output is the same lines, each token line with its predicted tag appended with the line's
  own separator (a tab if the line has one, else a space). As JSON Lines instead, one record per sentence:
  ``{"line": N, "tokens": [...], "entities": [...]}``, offsets into the tokens joined by single spaces.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from ner.inference.annotate import entities
from ner.inference.pipeline import prepare_split
from ner.inference.tagger import Tagger
from ner.runtime import InputError, WorkerDied, kill_pool
from ner.text.conll import DOCSTART
from ner.text.results import Prediction
from ner.text.tokenize import Token, Tokenizer, join_tokens

log = logging.getLogger(__name__)

Format = Literal["jsonl", "text", "conll"]
FORMATS: tuple[Format, ...] = ("jsonl", "text", "conll")
_SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".txt": "text",
    ".text": "text",
    ".conll": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".iobes": "conll",
    ".tsv": "conll",
}
CHUNK_BYTES = 32_768  # input bytes per chunk: ~5,000 tokens of news, enough sentences to batch well
MAX_LINE_BYTES = 8 << 20  # one record (a line) at most: 8 MiB, about 1.5 million tokens of text
DOCUMENT_CHUNKS = 8  # a CoNLL chunk waits this many times as long for a -DOCSTART- line to end at


def detect_format(name: str, first_line: bytes = b"") -> Format:
    """The format of a file by its name (``.gz`` aside): ``.jsonl``/``.ndjson``/``.json`` JSON Lines,
    ``.txt``/``.text`` plain text, ``.conll``/``.iob``/``.bio``/``.iobes``/``.tsv`` CoNLL. A ``.txt``
    file whose first line is ``-DOCSTART-`` is CoNLL (CoNLL-2003's own files are named so).

    Raises:
        InputError: for a name that says nothing (pass the format explicitly).
    """
    base = name[:-3] if name.endswith(".gz") else name
    suffix = os.path.splitext(base)[1].lower()
    found = _SUFFIXES.get(suffix)
    if found == "text" and first_line.startswith(DOCSTART.encode()):
        return "conll"
    if found is None:
        raise InputError(
            f"cannot tell the format from the name (suffix {suffix or 'none'!r}); "
            f"pass --format {'|'.join(FORMATS)}",
            name,
        )
    return found


@dataclass(frozen=True)
class Job:
    """How each record is read and written.

    Attributes:
        input_format: ``jsonl``, ``text`` or ``conll``.
        output_format: ``jsonl`` or ``conll`` (``conll`` only from ``conll`` input).
        text_field: the JSON field that holds the text.
        skip_bad: skip (and count) a bad record instead of stopping at it.
        sentence_tokens: raw-text sentences longer than this are cut, as the service cuts them.
        batch_size: sentences per model call.
    """

    input_format: Format
    output_format: Literal["jsonl", "conll"]
    text_field: str = "text"
    skip_bad: bool = False
    sentence_tokens: int = 128
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.output_format == "conll" and self.input_format != "conll":
            raise InputError(f"CoNLL output needs CoNLL input, not {self.input_format}")


@dataclass(frozen=True)
class Chunk:
    """Whole records of the input: raw lines without their line ends, and the first one's number."""

    first_line: int
    lines: list[bytes]


@dataclass
class ChunkResult:
    """A chunk's output (whole lines, each ending in a newline) and what went into it.

    Bad records are data here, not exceptions, so that they cross process boundaries with their line
    numbers: ``bad`` lists the skipped ones; ``error`` is the one that stopped the chunk (its output
    holds the records before it)."""

    text: str
    records: int = 0
    tokens: int = 0
    input_bytes: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, what was wrong)
    error: tuple[int, str] | None = None


def read_chunks(
    stream: BinaryIO, fmt: Format, chunk_bytes: int = CHUNK_BYTES, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Chunk]:
    """Cut a binary stream into chunks of about ``chunk_bytes``, never inside a record. CoNLL chunks
    end at a ``-DOCSTART-`` line, so that a document is read whole (with its context); past
    ``DOCUMENT_CHUNKS`` times the size without one, at a blank line.

    Raises:
        InputError: naming the line, for a line longer than ``max_line_bytes`` (read no further
            than that, so that memory stays bounded whatever the input).
    """
    lines: list[bytes] = []
    first, size = 1, 0
    number = 0
    while raw := stream.readline(max_line_bytes + 1):
        number += 1
        if len(raw) > max_line_bytes:
            raise InputError(
                f"the line is longer than {max_line_bytes:,} bytes, the most one record may hold", line=number
            )
        line = raw.rstrip(b"\n").rstrip(b"\r")
        lines.append(line)
        size += len(raw)
        if size >= chunk_bytes and (
            fmt != "conll"
            or line.strip().startswith(DOCSTART.encode())
            or (size >= DOCUMENT_CHUNKS * chunk_bytes and _ends_sentence(line))
        ):
            yield Chunk(first, lines)
            lines, first, size = [], number + 1, 0
    if lines:
        yield Chunk(first, lines)


def _ends_sentence(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(DOCSTART.encode())


def parse_record(raw: bytes, number: int, job: Job) -> dict[str, Any] | None:
    """One JSON Lines or text record as a dictionary (``None`` for a blank JSON Lines line).

    Raises:
        InputError: naming the line, for bytes that are not UTF-8, a line that is not a JSON object,
            or a missing or non-string text field.
    """
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start + 1} of the line)", line=number) from None
    if job.input_format == "text":
        return {"text": line}
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg} at character {exc.pos + 1})", line=number) from None
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}", line=number)
    text = record.get(job.text_field)
    if not isinstance(text, str):
        what = "missing" if text is None else f"{type(text).__name__}, not a string"
        raise InputError(f"field {job.text_field!r} is {what}", line=number)
    return record


def skip_done(chunks: Iterable[Chunk], job: Job, done: int) -> tuple[int, Iterator[Chunk]]:
    """Where a partial output of ``done`` lines resumes, found without tagging (``--resume``): the
    lines to keep, and the chunks left to tag.

    JSON Lines and text records give one line each, unless blank or skipped as bad (decided again
    here as the first run decided it). CoNLL lines give one line each, and the kept lines end at a
    sentence boundary (a line cut mid-sentence is tagged again), so they can be fewer than ``done``.

    Raises:
        InputError: the input gives fewer lines than the output holds (it is not this input's output),
            or a bad record is met before ``done`` lines and the job does not skip bad records.
    """
    seen = 0
    it = iter(chunks)
    for chunk in it:
        if job.input_format == "conll":
            if seen + len(chunk.lines) <= done:
                seen += len(chunk.lines)
                continue
            written = done - seen  # this chunk's lines already in the output
            boundary = max((i + 1 for i in range(written) if _ends_sentence(chunk.lines[i])), default=0)
            rest = Chunk(chunk.first_line + boundary, chunk.lines[boundary:])
            return seen + boundary, itertools.chain([rest], it)
        for i, raw in enumerate(chunk.lines):
            if seen == done:
                return done, itertools.chain([Chunk(chunk.first_line + i, chunk.lines[i:])], it)
            try:
                if parse_record(raw, chunk.first_line + i, job) is not None:
                    seen += 1
            except InputError:
                if not job.skip_bad:
                    raise
    if seen < done:
        raise InputError(f"the partial output holds {done} lines, but the input gives only {seen}")
    return seen, iter(())


class ChunkTagger:
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
        return "".join(
            json.dumps({**record, "entities": ents}, ensure_ascii=False) + "\n"
            for record, ents in zip(records, found)
        )

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


_WORKER: ChunkTagger | None = None  # the tagger of a worker process, set before it forks or as it starts


def _init_worker(tagger_path: str | None, device: str, job: Job, parent: int) -> None:
    import signal
    import sys

    from ner.runtime import die_with_parent

    die_with_parent(parent)  # a parent killed with SIGKILL takes its workers along
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    global _WORKER
    if tagger_path is not None:  # started fresh (spawn, for a GPU): load the model here
        from ner.inference.tagger import Tagger

        _WORKER = ChunkTagger(Tagger.load(tagger_path, device), job)
    if "torch" in sys.modules:  # one thread per process: the processes are the parallelism
        sys.modules["torch"].set_num_threads(1)


def _work_in_worker(chunk: Chunk) -> ChunkResult:
    assert _WORKER is not None, "worker process started without a tagger"
    return _WORKER(chunk)


def worker_pool(work: ChunkTagger, workers: int, tagger_path: str, device: str) -> Executor:
    """``workers`` processes with one model on one thread each. On the CPU they are forked from this
    one and share its loaded model (copy-on-write); a GPU cannot be forked, so each loads its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORKER
    device_of = getattr(work.tagger, "device", None)  # a numpy tagger has none: it runs on the CPU
    on_gpu = device_of is not None and device_of.type != "cpu"
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
