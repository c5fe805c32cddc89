"""The corpus pipeline: reading records, chunking, tagging in order, resuming, bad records."""

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ner.corpus.engine import (
    Chunk,
    ChunkWork,
    Job,
    read_chunks,
    tag_chunks,
)
from ner.inference.tagger import Tagger
from ner.runtime import InputError
from ner.text.tokenize import Tokenizer

JSONL = Job("jsonl", "jsonl")


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


def test_tag_file_is_the_local_engine_without_the_command_line(model_path: Path, tmp_path: Path) -> None:
    from ner.corpus.engine import TagRun, plan_backend, tag_file

    source = tmp_path / "in.txt"
    source.write_text("Alice Walker visited Paris.\nAcme Corp hired Bob Stone.\n")
    out = tmp_path / "out.jsonl"
    seen: list[tuple[int, int, int]] = []
    report = tag_file(TagRun(str(source), str(out), model_path, workers=1), lambda *p: seen.append(p))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert report.records == 2 and report.signal is None and len(records) == 2
    assert [e["text"] for e in records[0]["entities"]] == ["Alice Walker", "Paris"]
    assert seen and seen[-1][0] == source.stat().st_size and seen[-1][1] == 2
    with pytest.raises(InputError, match="already exists"):
        tag_file(TagRun(str(source), str(out), model_path, workers=1))
    small = TagRun(str(source), str(out), device="cpu")
    assert plan_backend(small, 1, 1000) == "numpy" and plan_backend(small, 1, 10**8) == "torch"


def test_pre_annotations_for_label_studio_and_doccano_read_back(model_path: Path, tmp_path: Path) -> None:
    from ner.corpus.engine import TagRun, tag_file
    from ner.text.spans import read_records

    source = tmp_path / "in.jsonl"
    source.write_text('{"body": "Alice Walker visited Paris.", "id": 7}\n{"body": "Nothing."}\n')
    studio, doccano = tmp_path / "tasks.json", tmp_path / "pre.jsonl"
    for out, shape in ((studio, "labelstudio"), (doccano, "doccano")):
        run = TagRun(str(source), str(out), model_path, output_format=shape, text_field="body", workers=1)
        tag_file(run)
    tasks = json.loads(studio.read_text())  # one JSON array, as Label Studio imports it
    assert [t["data"] for t in tasks] == [
        {"text": "Alice Walker visited Paris.", "id": 7},
        {"text": "Nothing."},
    ]
    (prediction,) = tasks[0]["predictions"]
    values = [r["value"] for r in prediction["result"]]
    assert [(v["text"], v["labels"]) for v in values] == [("Alice Walker", ["PER"]), ("Paris", ["LOC"])]
    assert prediction["score"] == min(r["score"] for r in prediction["result"])
    shape, records, _ = read_records(doccano)  # what doccano exports after correction reads back
    assert shape == "doccano" and [(s.start, s.end, s.label) for s in records[0].spans] == [
        (0, 12, "PER"),
        (21, 26, "LOC"),
    ]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    tag_file(
        TagRun(str(empty), str(tmp_path / "none.json"), model_path, output_format="labelstudio", workers=1)
    )
    assert json.loads((tmp_path / "none.json").read_text()) == []
    with pytest.raises(InputError, match="labelstudio output needs texts"):
        conll = tmp_path / "c.conll"
        conll.write_text("Alice B-PER\n")
        tag_file(TagRun(str(conll), str(tmp_path / "x.json"), model_path, output_format="labelstudio"))
