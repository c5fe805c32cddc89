"""Training configs (:mod:`ner.training.config`): the shipped recipes in configs/ load, the defaults are
the bundled recipe, bad settings are refused by name."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from ner.model.config import ModelConfig
from ner.training.config import TrainConfig
from tests.conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.toml"))


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


def test_the_defaults_are_the_bundled_recipe() -> None:
    import tomllib

    from ner.model.config import ModelConfig
    from ner.training.config import TrainConfig

    recipe = tomllib.loads((REPO / "configs" / "conll03.toml").read_text())
    model = asdict(ModelConfig())
    assert {k: model[k] for k in recipe["model"]} == recipe["model"]
    assert {k: asdict(TrainConfig())[k] for k in recipe["train"]} == recipe["train"]


def test_train_config_refuses_a_probability_outside_zero_to_one() -> None:
    from ner.training.config import TrainConfig

    for name in ("unk_replace", "memory_dropout", "lowercase", "reflow"):
        with pytest.raises(ValueError, match=f"{name} must be a probability"):
            TrainConfig(**{name: 1.5})


def test_train_config_refuses_a_weight_average_decay_outside_zero_to_one() -> None:
    from ner.training.config import TrainConfig

    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="weight_average must be a decay"):
            TrainConfig(weight_average=bad)


def test_a_recipe_merges_the_flags_over_the_file_and_checks_both(tmp_path: Path) -> None:
    from ner.training.config import load_recipe

    path = tmp_path / "r.toml"
    path.write_text('embeddings = "v.txt"\n[model]\nhidden = 16\nmemory = 0\n[train]\nepochs = 3\nlr = 0.1\n')
    recipe = load_recipe(path, {"epochs": 5, "seed": None})
    assert recipe.model == {"hidden": 16, "memory": 0} and recipe.embeddings == "v.txt"
    assert (recipe.train.epochs, recipe.train.lr, recipe.train.seed) == (5, 0.1, 1)  # None: not given
    assert recipe.model_config(word_dim=50).word_dim == 50 and recipe.model_config(50).hidden == 16
    assert load_recipe(None) == load_recipe(None, {})  # the bundled recipe's defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\nhiden = 3\n", r"unknown keys in \[model\]: hiden"),
        ("[train]\nepoch = 3\n", r"unknown keys in \[train\]: epoch"),
        ("[model]\nchar_window = 2\n", r"bad \[model\] table: char_window must be odd"),
        ('[train]\ntokenizer = "twitter"\n', r"bad \[train\] table: tokenizer must be one of"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_a_bad_recipe_names_the_file_and_the_setting(tmp_path: Path, text: str, message: str) -> None:
    from ner.runtime import InputError
    from ner.training.config import load_recipe

    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        load_recipe(path)
    assert str(caught.value).startswith(str(path))


def test_teachers_bring_half_the_weight_unless_the_recipe_says(tmp_path: Path) -> None:
    from ner.runtime import InputError
    from ner.training.config import load_recipe

    teacher = tmp_path / "t.pt"
    teacher.write_bytes(b"")
    assert load_recipe(None, {"teachers": [str(teacher)]}).train.distil == 0.5
    path = tmp_path / "r.toml"
    path.write_text("[train]\ndistil = 0.25\n")
    assert load_recipe(path, {"teachers": [str(teacher)]}).train.distil == 0.25
    with pytest.raises(InputError, match="no such teacher checkpoint"):
        load_recipe(None, {"teachers": [str(tmp_path / "missing.pt")]})
