"""Formats, chunks of whole records and where to resume (:mod:`ner.corpus.formats`)."""

import io

import pytest

from ner.corpus.engine import (
    Chunk,
    Job,
    detect_format,
    parse_record,
    read_chunks,
    skip_done,
)
from ner.runtime import InputError

JSONL = Job("jsonl", "jsonl")


def test_format_from_the_name() -> None:
    assert detect_format("a.jsonl") == detect_format("a.ndjson.gz") == "jsonl"
    assert detect_format("a.txt") == "text"
    assert detect_format("a.txt", b"-DOCSTART- -X- O") == "conll"  # CoNLL-2003's own files
    assert detect_format("a.conll.gz") == "conll"
    with pytest.raises(InputError, match="pass --format"):
        detect_format("a.data")


def test_chunks_hold_whole_records_and_conll_sentences() -> None:
    lines = [f"line {i}".encode() for i in range(50)]
    chunks = list(read_chunks(io.BytesIO(b"\n".join(lines) + b"\n"), "text", chunk_bytes=30))
    assert [line for c in chunks for line in c.lines] == lines
    assert [c.first_line for c in chunks] == [
        1 + sum(len(c.lines) for c in chunks[:i]) for i in range(len(chunks))
    ]
    conll = b"A O\nB O\n\nC O\nD O\nE O\n\n-DOCSTART- O\n\nF O\n"
    conll_chunks = list(read_chunks(io.BytesIO(conll), "conll", chunk_bytes=1))
    assert b"\n".join(line for c in conll_chunks for line in c.lines) + b"\n" == conll
    for chunk in conll_chunks[:-1]:  # the last one ends with the input
        assert not chunk.lines[-1].strip() or chunk.lines[-1].startswith(b"-DOCSTART-")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"text": "a"', "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"body": "a"}', "field 'text' is missing"),
        (b'{"text": 3}', "field 'text' is int, not a string"),
        (b'{"text": "caf\xe9"}', "not UTF-8"),
    ],
)
def test_bad_records_name_the_line(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_record(raw, 7, JSONL)
    assert caught.value.line == 7


def test_skip_done_finds_where_to_resume() -> None:
    lines = [b'{"text": "a"}', b"", b"junk", b'{"text": "b"}', b'{"text": "c"}']
    skipping = Job("jsonl", "jsonl", skip_bad=True)
    kept, rest = skip_done([Chunk(1, lines[:3]), Chunk(4, lines[3:])], skipping, 1)
    assert kept == 1 and [c.first_line for c in rest] == [2, 4]
    kept, rest = skip_done([Chunk(1, lines)], skipping, 3)
    assert kept == 3 and list(rest) == []
    with pytest.raises(InputError, match="holds 4 lines, but the input gives only 3"):
        skip_done([Chunk(1, lines)], skipping, 4)
    with pytest.raises(InputError, match="not JSON"):
        skip_done([Chunk(1, lines)], JSONL, 3)
    conll = [b"A O", b"B O", b"", b"C O", b"D O", b""]
    kept, rest = skip_done([Chunk(1, conll)], Job("conll", "conll"), 4)  # cut inside the second sentence
    assert kept == 3 and [c.lines for c in rest] == [conll[3:]]


def test_conll_chunks_end_at_documents_when_they_can() -> None:
    doc = b"-DOCSTART- O\n\nA O\nB O\n\nC O\n\n"  # 27 bytes
    chunks = list(read_chunks(io.BytesIO(doc * 3), "conll", chunk_bytes=10))  # 8 x 10 bytes to wait
    assert [c.lines[-1] for c in chunks] == [b"-DOCSTART- O"] * 3 + [b""]
    assert [c.first_line for c in chunks] == [1, 2, 9, 16]
    long_doc = b"-DOCSTART- O\n\n" + b"A O\n\n" * 40  # no -DOCSTART- for 200 bytes: cut at sentences
    sizes = [sum(len(line) + 1 for line in c.lines) for c in read_chunks(io.BytesIO(long_doc), "conll", 10)]
    assert len(sizes) > 1 and max(sizes) <= 90


def test_a_line_longer_than_the_limit_is_refused_by_number_without_reading_it_whole() -> None:
    import io

    from ner.corpus.engine import read_chunks
    from ner.runtime import InputError

    stream = io.BytesIO(b"short\n" + b"x" * 5000 + b"\nafter\n")
    chunks = read_chunks(stream, "text", chunk_bytes=1, max_line_bytes=1000)
    assert next(chunks).lines == [b"short"]
    with pytest.raises(InputError, match="line is longer than 1,000 bytes") as refused:
        next(chunks)
    assert refused.value.line == 2
    assert stream.tell() < 2100  # no more than the limit was read of it
