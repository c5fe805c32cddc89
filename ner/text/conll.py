"""Reading CoNLL-format files: token first, NER tag last, blank lines between sentences."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ner.runtime import InputError, unreadable
from ner.text.tags import Scheme, SchemeError, check_scheme, detect_scheme, is_valid_tag

DOCSTART = "-DOCSTART-"


@dataclass
class Sentence:
    """One sentence: its tokens, gold tags (empty when the file has none) and 1-based line numbers."""

    tokens: list[str]
    tags: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    document: int = 0  # which -DOCSTART- block of its file (0 for a file without them)


@dataclass
class Corpus:
    """A read CoNLL file: its sentences, the tag scheme they use and a fingerprint of its bytes."""

    path: str
    sentences: list[Sentence]
    scheme: Scheme | None
    sha256: str

    def documents(self) -> list[list[Sentence]]:
        """The sentences grouped by document, in file order."""
        groups: list[list[Sentence]] = []
        for sentence in self.sentences:
            if not groups or groups[-1][-1].document != sentence.document:
                groups.append([])
            groups[-1].append(sentence)
        return groups


def joined_digest(first: str, second: str) -> str:
    """The fingerprint of two corpora joined (``ner.training.data.joined``), from theirs."""
    return hashlib.sha256(f"{first}+{second}".encode()).hexdigest()


def read_lines(path: str | Path) -> list[str]:
    """Read ``path`` as UTF-8 lines, naming the line where decoding fails."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise unreadable(exc, path) from None
    lines = raw.split(b"\n")
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 (byte {exc.start + 1} of the line)", path, number) from None
    if out and out[-1] == "":
        out.pop()
    return out


def read_conll(path: str | Path, scheme: Scheme | None = None, with_tags: bool = True) -> Corpus:
    """Read a CoNLL file into sentences.

    Args:
        path: the file.
        scheme: the tag scheme the file uses; detected when ``None``.
        with_tags: whether the last column is a NER tag (``False`` for text to be tagged, where every
            column is kept as it is and only the first is read).

    Raises:
        InputError: naming the file and line, for a missing or non-UTF-8 file, a line whose column
            count differs from the file's first token line, an unknown tag, a tag sequence that breaks
            the scheme, or a file with no sentences.
    """
    lines = read_lines(path)
    sentences: list[Sentence] = []
    document = 0
    current = Sentence([])
    columns = 0
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts or parts[0] == DOCSTART:
            if current.tokens:
                sentences.append(current)
                current = Sentence([], document=document)
            if parts and sentences and sentences[-1].document == document:
                document += 1  # a -DOCSTART- after sentences of this document begins the next
                current.document = document
            continue
        if columns == 0:
            columns = len(parts)
            if with_tags and columns < 2:
                raise InputError(
                    f"expected a token and a tag separated by whitespace, got {line.strip()!r}",
                    path,
                    number,
                )
        elif len(parts) != columns:
            raise InputError(f"expected {columns} columns, found {len(parts)}", path, number)
        current.tokens.append(parts[0])
        current.lines.append(number)
        if with_tags:
            if not is_valid_tag(parts[-1]):
                raise InputError(
                    f"unknown tag {parts[-1]!r} (expected O or B-/I-/E-/S- and a type)", path, number
                )
            current.tags.append(parts[-1])
    if current.tokens:
        sentences.append(current)
    if not sentences:
        raise InputError("no sentences found (the file is empty or holds only -DOCSTART- lines)", path)
    found: Scheme | None = None
    if with_tags:
        found = scheme or detect_scheme([s.tags for s in sentences])
        for sentence in sentences:
            try:
                check_scheme(sentence.tags, found)
            except SchemeError as exc:
                raise InputError(str(exc), path, sentence.lines[exc.position]) from None
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return Corpus(str(path), sentences, found, digest)
