"""Training configs: the ``[train]`` settings (:class:`TrainConfig`), and reading a TOML config into
checked settings (:func:`load_recipe`), merged with what the command line overrides, before any data
is read. The ``[model]`` table holds :class:`ner.model.config.ModelConfig` settings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ner.model.config import SETTINGS, ModelConfig
from ner.runtime import InputError
from ner.text.tags import Scheme
from ner.text.tokenize import STYLES


@dataclass(frozen=True)
class TrainConfig:
    """How to train: everything that is not the model's shape."""

    epochs: int = 22
    batch_size: int = 32
    optimizer: Literal["adam", "nadam", "sgd"] = "nadam"
    lr: float = 2e-3
    lr_decay: float = 0.05  # lr / (1 + lr_decay * epoch), as Ma & Hovy
    clip: float = 5.0
    patience: int = 8
    unk_replace: float = 0.5  # chance of hiding a singleton word (of the kind below) as <unk>
    # Which singletons of the training data may be hidden: those without a pretrained vector, or all
    # of them (Lample et al. 2016), so that <unk> is learnt and rare names lean on their spelling.
    unk_singletons: Literal["unvectored", "all"] = "unvectored"
    # The word embedding's learning rate as a multiple of ``lr`` (1: the same, one parameter group).
    embed_lr_scale: float = 1.0
    # With document memory: chance, per block and epoch, that a block is read as lone sentences (each
    # recalls only itself), as a sentence is tagged when no document comes with it.
    memory_dropout: float = 0.25
    # Chance, per block (with memory; else per sentence) and epoch, that training text is read all in
    # lower case (tags kept), so that names in text written without capitals (social media, chat,
    # speech transcripts) are still found from their words and context (case augmentation, Mayhew
    # et al. 2019). 0: off. 0.2 in the bundled recipe (its effect: docs/training.md).
    lowercase: float = 0.2
    # Chance, per block (needs document memory) and epoch, that its sentences are read as a splitter
    # cuts flowing text: a sentence that does not end in . ! ? (a headline, a dateline, a table row)
    # runs on into the next one (cut at 128 tokens, as tagging cuts). 0: off. A model without document
    # memory, or with context windows, ignores it (with a warning). 0.2 in the bundled recipe: flowing
    # dev documents 93.73 ± 0.04 against 92.53, written dev 94.48 ± 0.15 against 94.60 ± 0.06.
    reflow: float = 0.2
    # Keep an exponential moving average of the weights, ``decay`` per step (0: off), and evaluate and
    # save it rather than the last step's weights (Polyak averaging).
    weight_average: float = 0.999
    # Dropout with one mask per sentence for each feature (variational, Gal & Ghahramani 2016), on the
    # BiLSTM's input and output, rather than a new mask for every token.
    variational: bool = False
    # Distillation: the weight of the cross-entropy against the ``teachers``' (checkpoint paths) mean
    # tag distributions per token, beside 1 - distil for the gold tags.
    distil: float = 0.0
    teachers: tuple[str, ...] = ()
    # Name lists (files of LABEL<TAB>name lines, ner.text.gazetteer): the model reads, for each token,
    # whether it begins, continues, ends or is a name of each list; the lists go into the checkpoint.
    gazetteer: tuple[str, ...] = ()
    scheme: Scheme = "iob2"  # the tags trained on (iob2 or iobes; the comparison: docs/training.md)
    glove_limit: int = (
        400_000  # most frequent pretrained words kept beside the training words (all of GloVe 6B)
    )
    max_minutes: float = 0.0  # stop after this long (0: no limit)
    tokenizer: str = "conll"  # the raw-text tokenizer the model is for: conll, social or whitespace
    final: bool = False  # train on train + dev for exactly ``epochs`` epochs; the last one is kept
    seed: int = 1

    def __post_init__(self) -> None:
        if self.tokenizer not in STYLES:
            raise ValueError(f"tokenizer must be one of {', '.join(STYLES)}, not {self.tokenizer!r}")
        for name in ("unk_replace", "memory_dropout", "lowercase", "reflow"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1] (got {value!r})")
        object.__setattr__(self, "teachers", tuple(self.teachers))  # TOML and JSON give lists
        object.__setattr__(self, "gazetteer", tuple(self.gazetteer))
        if not 0 <= self.distil <= 1 or (self.distil > 0) != bool(self.teachers):
            raise ValueError(f"distil must be in (0, 1] with teachers, 0 without (got {self.distil!r})")
        if self.unk_singletons not in ("unvectored", "all"):
            raise ValueError(f"unk_singletons must be 'unvectored' or 'all' (got {self.unk_singletons!r})")
        value = self.embed_lr_scale
        if not _is_number(value) or value < 0:
            raise ValueError(f"embed_lr_scale must be a number >= 0 (got {value!r})")
        value = self.weight_average
        if not _is_number(value) or not 0 <= value < 1:
            raise ValueError(f"weight_average must be a decay in [0, 1), 0 for off (got {value!r})")


def _is_number(value: Any) -> bool:
    """An int or float from a config table (TOML's true and false are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


TRAIN_SETTINGS = frozenset(TrainConfig.__dataclass_fields__)  # the names a [train] table may use


@dataclass(frozen=True)
class Recipe:
    """A checked config: the ``[model]`` settings (``word_dim`` comes from the word vectors), the
    ``[train]`` settings, and the word vectors to read."""

    model: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    embeddings: str | None = None

    def model_config(self, word_dim: int) -> ModelConfig:
        """The model's settings for word vectors of ``word_dim`` numbers."""
        return ModelConfig(**{**self.model, "word_dim": word_dim})


def read_toml(path: Path | None) -> dict[str, Any]:
    """A TOML config as a table (an empty one for no path).

    Raises:
        InputError: a missing file or one that is not TOML.
    """
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise InputError(f"cannot read the config: {exc.strerror}", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path) from None


def load_recipe(path: Path | None, overrides: dict[str, Any] | None = None) -> Recipe:
    """The config at ``path`` (None: the bundled recipe's defaults) with ``[train]`` settings
    ``overrides`` on top (None values are left out), every setting checked.

    Raises:
        InputError: naming the file, for an unknown key or a bad value in ``[model]`` or ``[train]``.
    """
    config = read_toml(path)
    model_cfg = dict(config.get("model", {}))
    train_cfg = dict(config.get("train", {}))
    for table, known, name in ((model_cfg, SETTINGS, "model"), (train_cfg, TRAIN_SETTINGS, "train")):
        unknown = set(table) - known
        if unknown:
            raise InputError(f"unknown keys in [{name}]: {', '.join(sorted(unknown))}", path)
    train_cfg.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if train_cfg.get("teachers"):
        train_cfg.setdefault("distil", 0.5)  # half the gold tags, half the teachers, unless told
    for teacher in train_cfg.get("teachers", ()):
        if not Path(teacher).is_file():
            raise InputError("no such teacher checkpoint", Path(teacher))
    for lists in train_cfg.get("gazetteer", ()):
        if not Path(lists).is_file():
            raise InputError("no such gazetteer file", Path(lists))
    try:
        cfg = TrainConfig(**train_cfg)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad [train] table: {exc}", path) from None
    try:  # word_dim comes from the vectors; any valid one checks the rest
        ModelConfig(**model_cfg)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad [model] table: {exc}", path) from None
    embeddings = config.get("embeddings")
    return Recipe(model_cfg, cfg, None if embeddings is None else str(embeddings))
