"""Tag schemes (IOB1, IOB2/BIO, IOBES): spans in, spans out, as pure functions over lists.

Entities are read the way conlleval reads them, so an ill-formed sequence such as ``O I-PER`` still
gives the span conlleval would count. Converting between schemes goes through spans.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

Scheme = Literal["iob1", "iob2", "iobes"]
SCHEMES: tuple[Scheme, ...] = ("iob1", "iob2", "iobes")
_TAG = re.compile(r"^(?:O|[BIES]-\S+)$")


@dataclass(frozen=True, order=True)
class Span:
    """An entity: tokens ``start`` to ``end`` (exclusive) labelled ``label``."""

    start: int
    end: int
    label: str


class SchemeError(ValueError):
    """A tag sequence that breaks its scheme; ``position`` is the offending token index."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def is_valid_tag(tag: str) -> bool:
    """Whether ``tag`` is ``O`` or a prefix ``B``/``I``/``E``/``S``, a dash and a type."""
    return _TAG.match(tag) is not None


@functools.lru_cache(maxsize=4096)
def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or len(tag) < 3 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:]


def _ends_chunk(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    # conlleval's endOfChunk
    return (
        prev in ("E", "S")
        or (prev in ("B", "I") and cur in ("B", "S", "O"))
        or (prev != "O" and prev_type != cur_type)
    )


def _starts_chunk(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    # conlleval's startOfChunk
    return (
        cur in ("B", "S")
        or (prev in ("E", "S", "O") and cur in ("I", "E"))
        or (cur != "O" and prev_type != cur_type)
    )


def spans_from_tags(tags: list[str]) -> list[Span]:
    """Read entities from tags in any scheme, exactly as conlleval does.

    >>> spans_from_tags(["B-PER", "I-PER", "O", "I-LOC"])
    [Span(start=0, end=2, label='PER'), Span(start=3, end=4, label='LOC')]
    """
    spans: list[Span] = []
    start = -1
    prev, prev_type = "O", ""
    for i, tag in enumerate(tags):
        if tag == "O" and prev == "O":
            continue  # the common case: nothing ends or starts here
        cur, cur_type = _split(tag)
        if start >= 0 and _ends_chunk(prev, prev_type, cur, cur_type):
            spans.append(Span(start, i, prev_type))
            start = -1
        if _starts_chunk(prev, prev_type, cur, cur_type) and cur != "O":
            start = i
        prev, prev_type = cur, cur_type
    if start >= 0:
        spans.append(Span(start, len(tags), prev_type))
    return spans


def tags_from_spans(spans: list[Span], length: int, scheme: Scheme) -> list[str]:
    """Write non-overlapping ``spans`` over ``length`` tokens as tags in ``scheme``."""
    tags = ["O"] * length
    ends = {s.end: s.label for s in spans}
    for span in sorted(spans):
        n = span.end - span.start
        if scheme == "iobes":
            if n == 1:
                tags[span.start] = f"S-{span.label}"
                continue
            tags[span.start] = f"B-{span.label}"
            tags[span.start + 1 : span.end - 1] = [f"I-{span.label}"] * (n - 2)
            tags[span.end - 1] = f"E-{span.label}"
            continue
        # IOB1 uses B- only where an entity directly follows one of the same type.
        begin = scheme == "iob2" or ends.get(span.start) == span.label
        tags[span.start] = f"{'B' if begin else 'I'}-{span.label}"
        tags[span.start + 1 : span.end] = [f"I-{span.label}"] * (n - 1)
    return tags


def convert(tags: list[str], scheme: Scheme) -> list[str]:
    """Rewrite ``tags`` (any scheme) in ``scheme``, keeping the entities conlleval reads."""
    return tags_from_spans(spans_from_tags(tags), len(tags), scheme)


def detect_scheme(sentences: list[list[str]]) -> Scheme:
    """Guess the scheme of tagged sentences: IOBES if E-/S- appear, IOB2 if an entity opens with B-."""
    iob2 = False
    for tags in sentences:
        prev_type = ""
        for tag in tags:
            cur, cur_type = _split(tag)
            if cur in ("E", "S"):
                return "iobes"
            if cur == "B" and prev_type != cur_type:
                iob2 = True
            prev_type = cur_type
    return "iob2" if iob2 else "iob1"


def check_scheme(tags: list[str], scheme: Scheme) -> None:
    """Raise :class:`SchemeError` at the first tag that ``scheme`` does not allow where it stands."""
    for i, tag in enumerate(tags):
        if not is_valid_tag(tag):
            raise SchemeError(f"unknown tag {tag!r}", i)
    if tags != convert(tags, scheme):
        expected = convert(tags, scheme)
        i = next(i for i, (a, b) in enumerate(zip(tags, expected)) if a != b)
        raise SchemeError(
            f"tag {tags[i]!r} breaks the {scheme.upper()} scheme (expected {expected[i]!r} here)", i
        )


def allowed_transitions(labels: list[str], scheme: Scheme) -> list[tuple[int, int]]:
    """Moves a well-formed sequence may make between ``labels`` in ``scheme``.

    Index ``len(labels)`` stands for the start of the sentence and ``len(labels) + 1`` for its end.
    IOB1 allows every move (any tag can open or continue an entity there).
    """
    n = len(labels)
    start, end = n, n + 1
    parts = [_split(label) for label in labels]

    def ok(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
        (p, pt), (c, ct) = prev, cur
        if scheme == "iob1":
            return True
        if scheme == "iob2":
            return c != "I" or (p in ("B", "I") and pt == ct)
        inside = p in ("B", "I")  # IOBES: B and I must continue, E and S must not be continued
        if c in ("I", "E"):
            return inside and pt == ct
        return not inside

    moves = []
    for i in range(n):
        if ok(("O", ""), parts[i]):
            moves.append((start, i))
        if ok(parts[i], ("O", "")):
            moves.append((i, end))
        moves.extend((i, j) for j in range(n) if ok(parts[i], parts[j]))
    return moves
