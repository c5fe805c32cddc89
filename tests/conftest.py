"""Tiny fixtures written for the tests: ten tagged sentences, a toy GloVe file, a model trained on them."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.training.config import TrainConfig
from ner.training.embeddings import load_vectors
from ner.training.train import train

REPO = Path(__file__).resolve().parent.parent  # the repository's root

SENTENCES = [
    [("Alice", "B-PER"), ("Walker", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")],
    [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("hired", "O"), ("Bob", "B-PER"), ("Stone", "I-PER"), (".", "O")],
    [("The", "O"), ("Nile", "B-LOC"), ("floods", "O"), ("in", "O"), ("August", "O"), (".", "O")],
    [("Carol", "B-PER"), ("likes", "O"), ("French", "B-MISC"), ("cheese", "O"), (".", "O")],
    [("Globex", "B-ORG"), ("opened", "O"), ("in", "O"), ("Berlin", "B-LOC"), ("on", "O"), ("Monday", "O")],
    [("Dave", "B-PER"), ("Miller", "I-PER"), ("of", "O"), ("Initech", "B-ORG"), ("spoke", "O"), (".", "O")],
    [("Rain", "O"), ("fell", "O"), ("on", "O"), ("Lisbon", "B-LOC"), ("and", "O"), ("Porto", "B-LOC")],
    [
        ("Eve", "B-PER"),
        ("watched", "O"),
        ("the", "O"),
        ("Olympic", "B-MISC"),
        ("Games", "I-MISC"),
        (".", "O"),
    ],
    [("Shares", "O"), ("of", "O"), ("Umbrella", "B-ORG"), ("Inc", "I-ORG"), ("rose", "O"), ("3.5", "O")],
    [("Frank", "B-PER"), ("flew", "O"), ("from", "O"), ("New", "B-LOC"), ("York", "I-LOC"), (".", "O")],
]

torch.set_num_threads(1)  # tiny tensors: threads only add overhead
# One model worker, whatever the machine: the app tests hand in the tiny tagger, which a model worker
# process would not use (it loads the checkpoint path). Tests of the default set it themselves.
os.environ.setdefault("NER_WORKERS", "1")

# Two documents, the second repeating names of the first: for the document memory.
DOCUMENTS = [SENTENCES[:5], SENTENCES[5:] + SENTENCES[:2]]
MEMORY = 20  # tokens per block of a document that the tiny memory model remembers

# Each sentence alone (memory = 0): the memory model has a fixture of its own.
TINY_MODEL = {"char_dim": 8, "char_filters": 16, "casing_dim": 4, "hidden": 32, "dropout": 0.1, "memory": 0}
TINY_TRAIN = TrainConfig(
    epochs=60, batch_size=4, optimizer="adam", lr=0.02, lr_decay=0.0, patience=60, unk_replace=0.0, seed=3,
    weight_average=0.0, scheme="iobes", lowercase=0.0, reflow=0.0,
)  # fmt: skip


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], docstart: bool = True) -> Path:
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for sentence in sentences:
        lines += [f"{word} NN O {tag}" for word, tag in sentence] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_documents(path: Path, documents: list[list[list[tuple[str, str]]]]) -> Path:
    lines: list[str] = []
    for document in documents:
        lines += ["-DOCSTART- -X- -X- O", ""]
        for sentence in document:
            lines += [f"{word} NN O {tag}" for word, tag in sentence] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_glove(path: Path, dim: int = 8) -> Path:
    words = sorted({w.lower() for s in SENTENCES for w, _ in s} | {"london", "tokyo", "maria"})
    rng = np.random.default_rng(0)
    rows = [f"{w} " + " ".join(f"{x:.4f}" for x in rng.normal(size=dim)) for w in words]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("data")
    write_conll(d / "train.txt", SENTENCES)
    write_glove(d / "glove.txt")
    return d


@pytest.fixture(scope="session")
def model_path(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained to fit the ten sentences."""
    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    train(TINY_MODEL, TINY_TRAIN, corpus, corpus, vectors, out, torch.device("cpu"))
    return out


@pytest.fixture(scope="session")
def gate_model_path(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small model of :func:`model_path` with the word/character gate (``combine = "gate"``)."""
    out = tmp_path_factory.mktemp("gate") / "gate.pt"
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    train({**TINY_MODEL, "combine": "gate"}, TINY_TRAIN, corpus, corpus, vectors, out, torch.device("cpu"))
    return out


GAZETTEER = "LOC\tParis\nLOC\tNew York\nLOC\tLisbon\nORG\tAcme Corp\nORG\tInitech\n"


@pytest.fixture(scope="session")
def gazetteer_model_path(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small model of :func:`model_path` reading two name lists (``--gazetteer``)."""
    out = tmp_path_factory.mktemp("lists") / "lists.pt"
    lists = out.parent / "lists.tsv"
    lists.write_text(GAZETTEER, encoding="utf-8")
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    cfg = replace(TINY_TRAIN, gazetteer=(str(lists),))
    train({**TINY_MODEL, "memory": MEMORY}, cfg, corpus, corpus, vectors, out, torch.device("cpu"))
    return out


@pytest.fixture(scope="session")
def tagger(model_path: Path) -> Tagger:
    return Tagger.load(model_path, "cpu")


@pytest.fixture(scope="session")
def memory_model_path(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model with document memory, trained on the two documents."""
    out = tmp_path_factory.mktemp("memory") / "memory.pt"
    corpus = read_conll(write_documents(out.parent / "documents.txt", DOCUMENTS))
    vectors = load_vectors(str(data_dir / "glove.txt"))
    train(
        {**TINY_MODEL, "memory": MEMORY},
        replace(TINY_TRAIN, epochs=20),
        corpus,
        corpus,
        vectors,
        out,
        torch.device("cpu"),
    )
    return out


@pytest.fixture(scope="session")
def memory_tagger(memory_model_path: Path) -> Tagger:
    return Tagger.load(memory_model_path, "cpu")
