"""Corpus records as they come: formats (told by name or flag), chunks of whole records read from a
stream with bounded memory, and each record parsed as its format says.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from ner.runtime import InputError
from ner.text.conll import DOCSTART

log = logging.getLogger(__name__)

Format = Literal["jsonl", "text", "conll"]
OutputFormat = Literal["jsonl", "conll", "labelstudio", "doccano"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("jsonl", "conll", "labelstudio", "doccano")
FORMATS: tuple[Format, ...] = ("jsonl", "text", "conll")
SUFFIXES: dict[str, str] = {  # a file name's suffix (.gz aside) -> its format; parquet: Ray only
    ".parquet": "parquet",
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


def format_of_name(name: str) -> str | None:
    """The format a file's name says (``.gz`` aside), by :data:`SUFFIXES`; None if it says none."""
    return SUFFIXES.get(os.path.splitext(name.removesuffix(".gz"))[1].lower())


def detect_format(name: str, first_line: bytes = b"") -> Format:
    """The format of a file by its name (``.gz`` aside): ``.jsonl``/``.ndjson``/``.json`` JSON Lines,
    ``.txt``/``.text`` plain text, ``.conll``/``.iob``/``.bio``/``.iobes``/``.tsv`` CoNLL. A ``.txt``
    file whose first line is ``-DOCSTART-`` is CoNLL (CoNLL-2003's own files are named so).

    Raises:
        InputError: for a name that says nothing (pass the format explicitly).
    """
    suffix = os.path.splitext(name.removesuffix(".gz"))[1].lower()
    found = format_of_name(name)
    if found == "text" and first_line.startswith(DOCSTART.encode()):
        return "conll"
    if found not in FORMATS:
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
        output_format: ``jsonl``, ``conll`` (only from ``conll`` input), or pre-annotations for an
            annotation tool (only from ``text`` or ``jsonl`` input): ``labelstudio`` (tasks with
            ``predictions``, a JSON array with one task a line) or ``doccano`` (JSON Lines with
            ``label`` triples).
        text_field: the JSON field that holds the text.
        skip_bad: skip (and count) a bad record instead of stopping at it.
        sentence_tokens: raw-text sentences longer than this are cut, as the service cuts them.
        batch_size: sentences per model call.
    """

    input_format: Format
    output_format: OutputFormat
    text_field: str = "text"
    skip_bad: bool = False
    sentence_tokens: int = 128
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.output_format == "conll" and self.input_format != "conll":
            raise InputError(f"CoNLL output needs CoNLL input, not {self.input_format}")
        if self.output_format in ("labelstudio", "doccano") and self.input_format == "conll":
            raise InputError(f"{self.output_format} output needs texts (text or jsonl input), not CoNLL")


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
