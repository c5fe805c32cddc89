"""Training data as annotation tools export it: texts with character-offset entities, turned into
tagged sentences with the model's own tokenizer.

Shapes read (one record per line of JSON Lines, or a JSON array of them):

- ``doccano``: ``{"text": ..., "label": [[start, end, "LABEL"], ...]}`` (``labels`` too, and the
  ``entities`` list of ``{"start_offset", "end_offset", "label"}`` of its relation projects);
- ``labelstudio``: Label Studio's JSON export, tasks with ``data.text`` and
  ``annotations[].result[].value`` holding ``start``, ``end`` and ``labels`` (the first annotation
  that was not cancelled);
- ``spacy``: ``[text, {"entities": [[start, end, label], ...]}]`` or ``{"text", "entities": [[...]]}``;
- ``ner``: this service's own output, ``{"text", "entities": [{"start", "end", "label", ...}]}`` as
  ``ner tag`` writes it, so corrected output can be trained on.

Each record is a document. Its text is split into sentences and tokens as the model will split it
when tagging (:class:`ner.text.tokenize.Tokenizer`), and its spans become IOB2 tags. A span whose
edges do not fall on token edges is an error naming the record, the span and its text, unless
``align`` says otherwise (``expand`` to the tokens it touches, ``contract`` to the tokens wholly
inside it, as spaCy's ``Doc.char_span`` modes); adjusted spans are counted. A sentence break inside
an entity joins the two sentences. Overlapping spans are an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, get_args

from ner.runtime import InputError, unreadable
from ner.text.conll import Corpus, Sentence, read_conll
from ner.text.tags import Scheme, convert, spans_from_tags
from ner.text.tokenize import Token, Tokenizer

log = logging.getLogger(__name__)

SpanFormat = Literal["doccano", "labelstudio", "spacy", "ner"]
SPAN_FORMATS: tuple[SpanFormat, ...] = get_args(SpanFormat)
DataFormat = Literal["conll", "doccano", "labelstudio", "spacy", "ner"]
DATA_FORMATS: tuple[DataFormat, ...] = get_args(DataFormat)
Align = Literal["strict", "expand", "contract"]
ALIGNS: tuple[Align, ...] = get_args(Align)
SENTENCE_TOKENS = 128  # sentences are cut as the service cuts them


@dataclass(frozen=True)
class Span:
    """An entity of a record: ``text[start:end]`` is labelled ``label``."""

    start: int
    end: int
    label: str


@dataclass
class Record:
    """One document of span data: its text, its entities, and where it was (1-based)."""

    text: str
    spans: list[Span]
    number: int


@dataclass
class Alignment:
    """What aligning spans to tokens did: spans kept as they were, adjusted, or dropped (a
    ``contract`` that left no token)."""

    exact: int = 0
    adjusted: int = 0
    dropped: int = 0
    examples: list[str] = field(default_factory=list)  # the first few adjustments, for the log


def is_span_file(path: str | Path) -> bool:
    """Whether a file's name says JSON (``.json``, ``.jsonl``, ``.ndjson``)."""
    return Path(path).suffix.lower() in (".json", ".jsonl", ".ndjson")


def read_corpus(
    path: str | Path,
    fmt: DataFormat | None = None,
    tokenizer: str = "conll",
    align: Align = "strict",
    scheme: Scheme | None = None,
) -> Corpus:
    """Tagged data from CoNLL or span data, told by ``fmt`` or by the name (``.json``/``.jsonl``:
    span data, its shape detected; anything else CoNLL). Span data is read with the ``tokenizer``
    style the model uses.

    Raises:
        InputError: naming the file and the record or line.
    """
    if fmt == "conll" or (fmt is None and not is_span_file(path)):
        return read_conll(path, scheme)
    shape, records, digest = read_records(path, None if fmt is None else fmt)
    corpus, alignment = tag_records(records, Tokenizer(SENTENCE_TOKENS, tokenizer), align, path)
    log.info(
        "%s: %d %s records, %d entities (%d adjusted to token edges by --align %s, %d dropped)",
        path, len(records), shape, alignment.exact + alignment.adjusted, alignment.adjusted, align,
        alignment.dropped,
    )  # fmt: skip
    for example in alignment.examples:
        log.info("%s: %s", path, example)
    corpus.sha256 = digest
    if scheme not in (None, "iob2"):
        for sentence in corpus.sentences:
            sentence.tags = convert(sentence.tags, scheme)
        corpus.scheme = scheme
    return corpus


def read_records(path: str | Path, fmt: SpanFormat | None = None) -> tuple[SpanFormat, list[Record], str]:
    """The records of a span file, its shape (``fmt``, or detected from the first record) and the
    sha256 of its bytes.

    Raises:
        InputError: a file that is not JSON (Lines), a record of an unknown shape or a bad span.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise unreadable(exc, path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start + 1})", path) from None
    items = _json_items(text, path)
    if not items:
        raise InputError("holds no records", path)
    shape = fmt or _detect(items[0][1], path, items[0][0])
    records = [_record(value, shape, path, number) for number, value in items]
    return shape, [r for r in records if r is not None], hashlib.sha256(raw).hexdigest()


def _json_items(text: str, path: str | Path) -> list[tuple[int, Any]]:
    """(line or position, value) of each record: a JSON array's items (numbered from 1), or each
    non-blank line of JSON Lines (numbered by line)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            if not stripped.startswith("[["):  # a spaCy-style line also starts with "["
                raise InputError(f"not valid JSON: {exc.msg} (line {exc.lineno})", path) from None
        else:
            if isinstance(whole, list) and (not whole or not isinstance(whole[0], str)):
                return list(enumerate(whole, start=1))
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                items.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", path, number) from None
    return items


def _detect(value: Any, path: str | Path, number: int) -> SpanFormat:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        return "spacy"
    if isinstance(value, dict):
        if "annotations" in value or "data" in value:
            return "labelstudio"
        if "label" in value or "labels" in value:
            return "doccano"
        entities = value.get("entities")
        if isinstance(entities, list) and entities and isinstance(entities[0], list):
            return "spacy"
        if isinstance(entities, list) and entities and isinstance(entities[0], dict):
            return "doccano" if "start_offset" in entities[0] else "ner"
        if "text" in value and isinstance(entities, list):
            return "ner"
    raise InputError(
        "cannot tell the shape of this record (expected doccano, Label Studio, spaCy-style or ner "
        f"output; pass --data-format {'|'.join(SPAN_FORMATS)})",
        path,
        number,
    )


def _record(value: Any, shape: SpanFormat, path: str | Path, number: int) -> Record | None:
    """A record in ``shape``; None for a Label Studio task with no annotation to learn from."""

    def bad(what: str) -> InputError:
        return InputError(f"not a {shape} record: {what}", path, number)

    triples: list[Any]
    if shape == "spacy":
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
            text, triples = value[0], value[1].get("entities", [])
        elif isinstance(value, dict):
            text, triples = value.get("text"), value.get("entities", [])
        else:
            raise bad('expected [text, {"entities": [...]}] or {"text", "entities"}')
    elif shape == "doccano":
        if not isinstance(value, dict):
            raise bad("expected an object")
        text = value.get("text")
        if "entities" in value and "label" not in value:
            triples = [_fields(e, ("start_offset", "end_offset", "label"), bad) for e in value["entities"]]
        else:
            triples = value.get("label", value.get("labels")) or []
    elif shape == "labelstudio":
        if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
            raise bad('expected a task with a "data" object')
        text = value["data"].get("text")
        done = [
            a for a in value.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")
        ]
        if not done:
            return None
        triples = []
        for result in done[0].get("result") or []:
            got = result.get("value", {}) if isinstance(result, dict) else {}
            if "start" in got and "labels" in got:
                triples.extend([got["start"], got["end"], label] for label in got["labels"])
    else:  # ner
        if not isinstance(value, dict):
            raise bad("expected an object")
        text = value.get("text")
        triples = [_fields(e, ("start", "end", "label"), bad) for e in value.get("entities") or []]
    if not isinstance(text, str):
        raise bad("no text")
    if not isinstance(triples, list):
        raise bad("entities must be a list")
    spans = []
    for triple in triples:
        if (
            not isinstance(triple, list | tuple)
            or len(triple) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in triple[:2])
            or not isinstance(triple[2], str)
            or not triple[2]
        ):
            raise bad(f"an entity must be [start, end, label], got {json.dumps(triple)[:80]}")
        start, end, label = triple
        if not 0 <= start < end <= len(text):
            raise bad(f"span [{start}, {end}] lies outside the text ({len(text)} characters) or is empty")
        if any(c.isspace() for c in label) or label == "O":
            raise bad(f"label {label!r} cannot be a tag type")
        spans.append(Span(start, end, label))
    spans.sort(key=lambda s: (s.start, s.end))
    for a, b in pairwise(spans):
        if b.start < a.end:
            raise bad(f"spans overlap: {_show(text, a)} and {_show(text, b)}")
    return Record(text, spans, number)


def _fields(entity: Any, names: tuple[str, str, str], bad: Any) -> list[Any]:
    if not isinstance(entity, dict) or not all(n in entity for n in names):
        raise bad(f"an entity must hold {', '.join(names)}")
    return [entity[n] for n in names]


def _show(text: str, span: Span) -> str:
    return f"[{span.start}, {span.end}, {span.label}] {text[span.start : span.end]!r}"


def tag_records(
    records: list[Record], tokenizer: Tokenizer, align: Align, path: str | Path
) -> tuple[Corpus, Alignment]:
    """Records as tagged sentences (IOB2), each record a document.

    Raises:
        InputError: with ``strict``, a span whose edges are not token edges.
    """
    sentences: list[Sentence] = []
    alignment = Alignment()
    for document, record in enumerate(records):
        split = tokenizer.sentences(record.text)
        tokens = [t for sentence in split for t in sentence]
        ends = [t.end for t in tokens]
        labels = ["O"] * len(tokens)
        for span in record.spans:
            first, last = _token_range(tokens, ends, span, align, record, path, alignment)
            if first == last:
                continue
            labels[first] = f"B-{span.label}"
            for k in range(first + 1, last):
                labels[k] = f"I-{span.label}"
        offset = 0
        for sentence in _joined(split, labels):
            words = [t.word for t in sentence]
            tags = labels[offset : offset + len(sentence)]
            sentences.append(Sentence(words, tags, [record.number] * len(sentence), document))
            offset += len(sentence)
    if not sentences:
        raise InputError("no tokens in any record", path)
    return Corpus(str(path), sentences, "iob2", ""), alignment


def _token_range(
    tokens: list[Token],
    ends: list[int],
    span: Span,
    align: Align,
    record: Record,
    path: str | Path,
    alignment: Alignment,
) -> tuple[int, int]:
    """The tokens [first, last) a span covers, by ``align`` (``ends``: each token's end)."""
    touched = []
    k = bisect_right(ends, span.start)  # the first token that ends after the span starts
    while k < len(tokens) and tokens[k].start < span.end:
        touched.append(k)
        k += 1
    inside = [k for k in touched if tokens[k].start >= span.start and tokens[k].end <= span.end]
    exact = bool(touched) and tokens[touched[0]].start == span.start and tokens[touched[-1]].end == span.end
    if exact:
        alignment.exact += 1
        return touched[0], touched[-1] + 1
    if align == "strict":
        near = f" (tokens there: {' '.join(repr(tokens[k].text) for k in touched)})" if touched else ""
        raise InputError(
            f"span {_show(record.text, span)} does not fall on token boundaries{near}; "
            "fix it, or pass --align expand|contract",
            path,
            record.number,
        )
    chosen = touched if align == "expand" else inside
    if not chosen:
        alignment.dropped += 1
        return 0, 0
    alignment.adjusted += 1
    if len(alignment.examples) < 5:
        a, b = tokens[chosen[0]].start, tokens[chosen[-1]].end
        alignment.examples.append(
            f"record {record.number}: {_show(record.text, span)} -> {record.text[a:b]!r} ({align})"
        )
    return chosen[0], chosen[-1] + 1


def _joined(split: list[list[Token]], labels: list[str]) -> list[list[Token]]:
    """The sentences, with any two joined where an entity runs across the break between them."""
    out: list[list[Token]] = []
    position = 0
    for sentence in split:
        if out and labels[position].startswith("I-"):
            out[-1] = out[-1] + sentence
        else:
            out.append(list(sentence))
        position += len(sentence)
    return out


def doccano_records(corpus: Corpus) -> list[dict[str, Any]]:
    """A tagged corpus as doccano records (the other way from :func:`read_corpus`): one text per
    document, tokens joined by spaces and sentences by newlines, its entities as ``label`` triples."""
    records = []
    for document in corpus.documents():
        text, spans = "", []
        for sentence in document:
            starts = []
            for token in sentence.tokens:
                starts.append(len(text))
                text += token + " "
            text = text[:-1] + "\n"
            for s in spans_from_tags(convert(sentence.tags, "iob2")):
                last = sentence.tokens[s.end - 1]
                spans.append([starts[s.start], starts[s.end - 1] + len(last), s.label])
        records.append({"text": text.rstrip("\n"), "label": spans})
    return records
