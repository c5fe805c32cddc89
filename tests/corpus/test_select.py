"""Choosing what to label next from a pool (:mod:`ner.corpus.select`)."""

import json
from pathlib import Path

import pytest

from ner.corpus.select import SelectRun, select_records
from ner.runtime import InputError

POOL = [
    "Alice Walker visited Paris.",
    "Qzxv Blorft Kwimmel Zrrp Vlaxo.",
    "Acme Corp hired Bob Stone.",
    "Snorfle Graaw met Plinth Varnok at Quibble.",
    "The Nile floods in August.",
]


def _pool(tmp_path: Path) -> Path:
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in enumerate(POOL)))
    return path


def test_the_least_sure_records_come_first_with_their_entities(model_path: Path, tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    out = tmp_path / "next.jsonl"
    seen, chosen = select_records(SelectRun(str(pool), str(out), 2, model_path, text_field="body"))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert seen == 5 and len(records) == 2 and chosen == sorted(chosen, reverse=True)
    assert {r["id"] for r in records} == {1, 3}  # the made-up words, not the training sentences
    assert [r["uncertainty"] for r in records] == [round(c, 6) for c in chosen]
    assert all("entities" in r and r["body"] == POOL[r["id"]] for r in records)
    everything = tmp_path / "all.jsonl"
    select_records(SelectRun(str(pool), str(everything), 99, model_path, text_field="body"))
    assert len(everything.read_text().splitlines()) == 5  # n past the pool: all of it, ranked


def test_chosen_records_as_pre_annotated_tasks(model_path: Path, tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    studio = tmp_path / "next.json"
    select_records(SelectRun(str(pool), str(studio), 3, model_path, "body", "labelstudio"))
    tasks = json.loads(studio.read_text())
    assert len(tasks) == 3 and all({"text", "id", "uncertainty"} <= set(t["data"]) for t in tasks)
    assert all(t["predictions"][0]["model_version"] for t in tasks)
    doccano = tmp_path / "next.doccano.jsonl"
    select_records(SelectRun(str(pool), str(doccano), 3, model_path, "body", "doccano"))
    assert all(
        {"text", "label", "uncertainty"} <= set(json.loads(line)) for line in doccano.read_text().splitlines()
    )


def test_bad_asks_are_clear_errors(model_path: Path, tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    with pytest.raises(InputError, match="--n must be at least 1"):
        select_records(SelectRun(str(pool), str(tmp_path / "o.jsonl"), 0, model_path))
    conll = tmp_path / "pool.conll"
    conll.write_text("Alice O\n")
    with pytest.raises(InputError, match="not CoNLL"):
        select_records(SelectRun(str(conll), str(tmp_path / "o.jsonl"), 1, model_path))
    (tmp_path / "exists.jsonl").write_text("keep me\n")
    with pytest.raises(InputError, match="already exists"):
        select_records(SelectRun(str(pool), str(tmp_path / "exists.jsonl"), 1, model_path, "body"))
    assert (tmp_path / "exists.jsonl").read_text() == "keep me\n"
    with pytest.raises(InputError, match=r"pool.jsonl:1: field 'missing' is missing"):
        select_records(SelectRun(str(pool), str(tmp_path / "o2.jsonl"), 1, model_path, "missing"))
