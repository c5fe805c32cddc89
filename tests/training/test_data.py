"""Vocabularies, examples and reflowed views that training reads (:mod:`ner.training.data`)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ner.text.conll import read_conll
from ner.training.config import TrainConfig
from ner.training.data import build_vocabs, singleton_rows
from ner.training.embeddings import load_vectors
from tests.conftest import TINY_TRAIN

SHORT = replace(TINY_TRAIN, epochs=4, unk_replace=0.5)


def test_vocabularies(data_dir: Path) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    encoder, singletons = build_vocabs(corpus, vectors, glove_limit=2, scheme="iobes")
    assert encoder.words.items[:2] == ["<pad>", "<unk>"]
    assert "london" not in encoder.words  # pretrained but past glove_limit and not in the data
    assert encoder.words.get("Alice") == encoder.words.index["alice"]
    assert encoder.words.get("3.5") != encoder.words.unk
    assert set(encoder.tags.items) == {
        "O",
        "B-PER",
        "E-PER",
        "S-PER",
        "B-ORG",
        "E-ORG",
        "S-ORG",
        "S-LOC",
        "B-LOC",
        "E-LOC",
        "S-MISC",
        "B-MISC",
        "E-MISC",
    }
    assert singletons == []  # every word has a vector in the toy GloVe


def test_singleton_rows_hide_unvectored_singletons_or_every_singleton(data_dir: Path) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    encoder, _ = build_vocabs(corpus, vectors, glove_limit=2, scheme="iobes")
    encoded = [encoder.encode(["Alice", "alice", "Bob", "3.5"]), encoder.encode(["Bob", "zzqx"])]
    words = encoder.words
    assert not singleton_rows(encoder, [], encoded, "unvectored").any()
    rows = singleton_rows(encoder, [], encoded, "all")
    # "Alice" and "alice" are one row seen twice, as is Bob; "zzqx" is <unk>, never a singleton
    assert rows.nonzero().flatten().tolist() == [words.get("3.5")]
    with pytest.raises(ValueError, match="unk_singletons"):
        TrainConfig(unk_singletons="some")  # type: ignore[arg-type]


def test_memory_blocks_partition_the_documents_in_order(tmp_path: Path) -> None:
    from ner.training.data import memory_blocks
    from tests.conftest import DOCUMENTS, MEMORY, write_documents

    corpus = read_conll(write_documents(tmp_path / "documents.txt", DOCUMENTS))
    blocks = memory_blocks(corpus, MEMORY)
    assert blocks is not None and memory_blocks(corpus, 0) is None
    assert [i for b in blocks for i in b] == list(range(len(corpus.sentences)))
    for block in blocks:
        assert len({corpus.sentences[i].document for i in block}) == 1  # never two documents
        assert len(block) == 1 or sum(len(corpus.sentences[i].tokens) for i in block) <= MEMORY


def test_reflowed_blocks_join_what_a_splitter_of_flowing_text_cannot_cut() -> None:
    from ner.training.data import reflowed_blocks

    examples = [
        (["SOCCER", "-", "JAPAN", "WIN", "."], ["O", "O", "B-LOC", "O", "O"]),
        (["AL-AIN", "1996-12-06"], ["B-LOC", "O"]),  # a dateline: no final punctuation
        (["Japan", "began", "."], ["B-LOC", "O", "O"]),
        (["Leeds", "3", "1"], ["B-ORG", "O", "O"]),  # table rows, then the block ends
        (["Hull", "2", "0"], ["B-ORG", "O", "O"]),
        (["Alone", "here", '"', "."], ["O", "O", "O", "O"]),
    ]
    out = reflowed_blocks(examples, [[0, 1, 2], [3, 4], [5]], cut=4)
    assert out.examples == [
        (["AL-AIN", "1996-12-06", "Japan", "began"], ["B-LOC", "O", "B-LOC", "O"]),
        (["."], ["O"]),  # cut at 4 tokens, as tagging cuts long sentences
        (["Leeds", "3", "1", "Hull"], ["B-ORG", "O", "O", "B-ORG"]),
        (["2", "0"], ["O", "O"]),
    ]
    assert out.blocks == [[0, 6, 7], [8, 9], [5]]  # new examples numbered after the originals
    flowed = np.array([True, False, True])
    block_of = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
    assert out.substitute([3, 4, 0, 1, 2, 5], flowed, block_of) == [3, 4, 0, 6, 7, 5]
