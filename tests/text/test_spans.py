"""Span data from annotation tools into tagged sentences (:mod:`ner.text.spans`)."""

import json
from pathlib import Path

import pytest

from ner.runtime import InputError
from ner.text.conll import read_conll
from ner.text.spans import doccano_records, read_corpus, read_records
from ner.text.tags import convert
from tests.conftest import SENTENCES, write_conll

TEXT = "Alice Walker visited Paris."
ALICE, PARIS = [0, 12, "PER"], [21, 26, "LOC"]


def _write(path: Path, records: list, lines: bool = True) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" if lines else json.dumps(records))
    return path


def _labelstudio(text: str, spans: list, cancelled: bool = False) -> dict:
    result = [
        {"value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}, "from_name": "label",
         "to_name": "text", "type": "labels"}
        for s, e, label in spans
    ]  # fmt: skip
    return {"id": 1, "data": {"text": text}, "annotations": [{"result": result, "was_cancelled": cancelled}]}


SHAPES = {
    "doccano": {"text": TEXT, "label": [ALICE, PARIS]},
    "labelstudio": _labelstudio(TEXT, [ALICE, PARIS]),
    "spacy": [TEXT, {"entities": [ALICE, PARIS]}],
    "ner": {"text": TEXT, "entities": [
        {"text": "Paris", "label": "LOC", "start": 21, "end": 26, "score": 0.9},
        {"text": "Alice Walker", "label": "PER", "start": 0, "end": 12},
    ]},
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_detected_and_gives_the_same_tags(shape: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [SHAPES[shape]])
    assert read_records(path)[0] == shape
    corpus = read_corpus(path)
    assert [s.tokens for s in corpus.sentences] == [["Alice", "Walker", "visited", "Paris", "."]]
    assert corpus.sentences[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]


def test_a_json_array_export_and_doccanos_entity_objects_read_too(tmp_path: Path) -> None:
    tasks = [_labelstudio(TEXT, [ALICE]), _labelstudio("Bob ran.", [[0, 3, "PER"]], cancelled=True)]
    corpus = read_corpus(_write(tmp_path / "export.json", tasks, lines=False))
    assert len(corpus.sentences) == 1  # a task whose only annotation was cancelled teaches nothing
    objects = {"text": TEXT, "entities": [{"id": 1, "start_offset": 21, "end_offset": 26, "label": "LOC"}]}
    assert read_corpus(_write(tmp_path / "rel.jsonl", [objects])).sentences[0].tags[3] == "B-LOC"


def test_a_span_off_token_edges_is_named_or_aligned_as_asked(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [{"text": TEXT, "label": [[0, 3, "PER"], [21, 27, "LOC"]]}])
    with pytest.raises(InputError, match=r"d\.jsonl:1: span \[0, 3, PER\] 'Ali' does not fall on token"):
        read_corpus(path)
    assert read_corpus(path, align="expand").sentences[0].tags == ["B-PER", "O", "O", "B-LOC", "I-LOC"]
    assert read_corpus(path, align="contract").sentences[0].tags == ["O", "O", "O", "B-LOC", "I-LOC"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": TEXT, "label": [[0, 12, "PER"], [6, 20, "ORG"]]}, "spans overlap"),
        ({"text": TEXT, "label": [[20, 99, "LOC"]]}, "lies outside the text"),
        ({"text": TEXT, "label": [["0", 5, "PER"]]}, "must be \\[start, end, label\\]"),
        ({"text": 5, "label": []}, "no text"),
        ({"words": ["a"]}, "cannot tell the shape"),
    ],
)
def test_bad_records_are_clear_errors_with_their_line(tmp_path: Path, record: dict, message: str) -> None:
    first = {"text": "fine", "label": []}
    path = _write(tmp_path / "bad.jsonl", [record] if "shape" in message else [first, record])
    line = 1 if "shape" in message else 2
    with pytest.raises(InputError, match=f"bad.jsonl:{line}: .*{message}"):
        read_corpus(path)


def test_an_entity_across_a_sentence_break_joins_the_sentences(tmp_path: Path) -> None:
    text = "Visit New\n\nYork today. Then rest."  # a blank line ends a sentence inside the name
    path = _write(tmp_path / "d.jsonl", [{"text": text, "label": [[6, 15, "LOC"]]}])
    joined, rest = read_corpus(path).sentences
    assert joined.tokens == ["Visit", "New", "York", "today", "."]
    assert joined.tags == ["O", "B-LOC", "I-LOC", "O", "O"] and rest.tags == ["O", "O", "O"]


@pytest.mark.parametrize("tokenizer", ["whitespace", "conll"])
def test_conll_to_spans_and_back_gives_the_same_tags(tmp_path: Path, tokenizer: str) -> None:
    source = read_conll(write_conll(tmp_path / "src.txt", SENTENCES))
    records = doccano_records(source)
    back = read_corpus(_write(tmp_path / "spans.jsonl", records), tokenizer=tokenizer)
    expected = [(t, g) for s in source.sentences for t, g in zip(s.tokens, convert(s.tags, "iob2"))]
    assert [(t, g) for s in back.sentences for t, g in zip(s.tokens, s.tags)] == expected


def test_conll_files_still_read_as_conll(tmp_path: Path) -> None:
    path = write_conll(tmp_path / "c.txt", SENTENCES[:2])
    assert read_corpus(path).sentences == read_conll(path).sentences
