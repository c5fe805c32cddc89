"""The shipped recipes in configs/ are configs that ``ner train`` accepts."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from ner.model.config import ModelConfig
from ner.training.config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_shipped_config_builds_its_model_and_training(path: Path) -> None:
    config = tomllib.loads(path.read_text())
    assert set(config) <= {"embeddings", "model", "train"}
    ModelConfig(**config["model"])  # raises on a bad table
    train = TrainConfig(**config["train"])
    assert train.tokenizer in ("conll", "social", "whitespace")


def test_the_default_recipe_is_the_bundled_one_and_wnut_reads_sentences_alone() -> None:
    """``ner train`` without --config trains configs/conll03.toml; the WNUT config has no memory."""
    by_name = {p.name: tomllib.loads(p.read_text()) for p in CONFIGS}
    bundled = by_name["conll03.toml"]
    defaults = ModelConfig()
    for f in fields(ModelConfig):
        if f.name in bundled["model"]:
            assert bundled["model"][f.name] == getattr(defaults, f.name), f.name
    for key, value in bundled["train"].items():
        assert getattr(TrainConfig(), key) == value, key
    assert by_name["wnut17.toml"]["model"]["memory"] == 0
