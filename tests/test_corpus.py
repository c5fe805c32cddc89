"""The corpus pipeline: reading records, chunking, tagging in order, resuming, bad records."""

import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ner.corpus.engine import (
    Chunk,
    ChunkWork,
    Job,
    detect_format,
    parse_record,
    read_chunks,
    skip_done,
    tag_chunks,
)
from ner.inference.tagger import Tagger
from ner.runtime import InputError
from ner.text.tokenize import Tokenizer

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


def test_records_keep_their_fields_and_get_the_service_entities(tagger: Tagger) -> None:
    work = ChunkWork(tagger, JSONL)
    lines = [
        json.dumps({"id": 1, "text": "Alice Walker visited Paris.", "meta": {"k": [1]}}).encode(),
        b"",
        json.dumps({"id": 2, "text": ""}).encode(),
    ]
    result = work(Chunk(1, lines))
    first, second = (json.loads(line) for line in result.text.splitlines())
    assert (
        first["id"] == 1 and first["meta"] == {"k": [1]} and second == {"id": 2, "text": "", "entities": []}
    )
    assert first["entities"] == [vars(e) for e in tagger.tag_texts([first["text"]], Tokenizer())[0]]
    assert [(e["text"], e["label"]) for e in first["entities"]] == [("Alice Walker", "PER"), ("Paris", "LOC")]
    assert (result.records, result.bad, result.error) == (2, [], None)


def test_bad_record_stops_the_chunk_or_is_skipped_and_counted(tagger: Tagger) -> None:
    lines = [b'{"text": "Bob Stone"}', b"not json", b'{"text": "\\ud800 lone surrogate"}', b'{"text": "Eve"}']
    stopped = ChunkWork(tagger, JSONL)(Chunk(10, lines))
    assert stopped.error is not None and stopped.error[0] == 11 and "not JSON" in stopped.error[1]
    assert len(stopped.text.splitlines()) == 1  # the record before it is kept
    skipped = ChunkWork(tagger, Job("jsonl", "jsonl", skip_bad=True))(Chunk(10, lines))
    assert [line for line, _ in skipped.bad] == [11, 12] and "lone surrogate" in skipped.bad[1][1]
    assert [json.loads(line)["text"] for line in skipped.text.splitlines()] == ["Bob Stone", "Eve"]


def test_conll_keeps_every_line_and_its_separator(tagger: Tagger) -> None:
    lines = [b"-DOCSTART-\tO", b"", b"Alice\tB-PER", b"Walker\tI-PER", b"", b"Paris NNP B-LOC"]
    out = ChunkWork(tagger, Job("conll", "conll"))(Chunk(1, lines)).text.splitlines()
    assert out[:2] == ["-DOCSTART-\tO", ""] and out[4] == ""
    assert out[2] == "Alice\tB-PER\tB-PER" and out[3] == "Walker\tI-PER\tI-PER"
    assert out[5] == "Paris NNP B-LOC B-LOC"
    as_json = ChunkWork(tagger, Job("conll", "jsonl"))(Chunk(1, lines)).text.splitlines()
    first = json.loads(as_json[0])
    assert first["line"] == 3 and first["tokens"] == ["Alice", "Walker"]
    assert [(e["text"], e["start"], e["end"]) for e in first["entities"]] == [("Alice Walker", 0, 12)]


def test_in_order_with_a_pool_and_bounded_in_flight(tagger: Tagger, monkeypatch) -> None:
    import ner.corpus.engine

    work = ChunkWork(tagger, Job("text", "jsonl"))
    texts = [f"Frank flew from New York {i} ." for i in range(40)]
    chunks = list(read_chunks(io.BytesIO("\n".join(texts).encode()), "text", chunk_bytes=64))
    alone = "".join(r.text for r in tag_chunks(chunks, work))
    monkeypatch.setattr(ner.corpus.engine, "_WORKER", work)  # a thread pool stands in for the processes
    submitted = []

    def lazily():
        for chunk in chunks:
            submitted.append(chunk)
            yield chunk

    with ThreadPoolExecutor(3) as pool:
        results = tag_chunks(lazily(), work, pool, in_flight=2)
        first = next(results)
        assert len(submitted) <= 3  # never the whole input ahead of the writer
        pooled = first.text + "".join(r.text for r in results)
    assert pooled == alone and [json.loads(line)["text"] for line in alone.splitlines()] == texts


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


def test_a_context_model_tags_conll_documents_as_ner_evaluate_reads_them(tagger: Tagger, monkeypatch) -> None:
    monkeypatch.setattr(tagger, "context", 12)
    first = [["Alice", "Walker", "visited", "Paris", "."], ["Acme", "Corp", "hired", "Bob", "Stone", "."]]
    second = [["Frank", "flew", "from", "New", "York", "."]]
    lines = [b"-DOCSTART- O", b""]
    for document in (first, second):
        for sentence in document:
            lines += [t.encode() for t in sentence] + [b""]
        lines += [b"-DOCSTART- O", b""]
    out = ChunkWork(tagger, Job("conll", "conll"))(Chunk(1, lines)).text.splitlines()
    tags = [line.split()[-1] for line in out if line and not line.startswith("-DOCSTART-")]
    expected = tagger.tag_documents([first, second])
    assert tags == [t for d in expected for s in d for t in s]
    records = ChunkWork(tagger, Job("conll", "jsonl"))(Chunk(1, lines)).text.splitlines()
    scores = [e["score"] for r in records for e in json.loads(r)["entities"]]
    read = tagger.predict_documents([first, second])
    assert scores == pytest.approx([e.score for d in read for p in d for e in p.entities], abs=1e-4)


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
