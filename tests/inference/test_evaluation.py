"""Scoring a tagger on a tagged corpus (:mod:`ner.inference.evaluation`)."""

from pathlib import Path

import pytest

from ner.inference.evaluation import evaluate_tagger, seen_in_training, type_mismatch
from ner.inference.tagger import Tagger
from ner.runtime import InputError
from ner.text.conll import joined_digest, read_conll
from tests.conftest import write_conll


def test_the_training_file_is_seen_and_a_fresh_one_is_not(
    tagger: Tagger, data_dir: Path, tmp_path: Path
) -> None:
    train = read_conll(data_dir / "train.txt")
    result = evaluate_tagger(tagger, train)
    assert result.seen == "its training data" and result.report.overall.f1 > 90
    fresh = tmp_path / "fresh.txt"
    write_conll(fresh, [[("Alice", "B-PER"), ("sang", "O")]])
    assert evaluate_tagger(tagger, read_conll(fresh)).seen == ""


def test_a_final_model_saw_train_and_dev() -> None:
    meta = {
        "train": {"sha256": joined_digest("t", "d")},
        "dev": {"sha256": "d"},
        "train_config": {"final": True},
    }
    assert seen_in_training(meta, "t") == "its training data"
    assert seen_in_training(meta, "d") == "the dev file of a --final model"
    assert seen_in_training({**meta, "train_config": {}}, "d") == ""


def test_types_the_model_lacks_are_named_and_strict_refuses_them(tagger: Tagger, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    write_conll(other, [[("Aspirin", "B-DRUG"), ("works", "O")]])
    data = read_conll(other)
    assert "the model lacks DRUG" in type_mismatch(tagger, data)
    with pytest.raises(InputError, match="share no entity types"):
        evaluate_tagger(tagger, data, strict=True)
    assert evaluate_tagger(tagger, data).report.overall.f1 == 0.0
