"""Word vectors from text files (:mod:`ner.training.embeddings`)."""

from pathlib import Path

import numpy as np
import pytest

from ner.runtime import InputError
from ner.training.embeddings import load_vectors


def test_glove_and_word2vec_text_files_read_alike(tmp_path: Path) -> None:
    glove = tmp_path / "g.txt"
    glove.write_text("the 0.1 0.2 0.3\nparis 1 2 3\nberlin -1 0 1\n")
    word2vec = tmp_path / "w.txt"
    word2vec.write_text("3 3\n" + glove.read_text())
    a, b = load_vectors(str(glove)), load_vectors(str(word2vec))
    assert a.words == b.words == ["the", "paris", "berlin"] and a.dim == 3
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert load_vectors(str(glove), limit=2).words == ["the", "paris"]


def test_a_missing_or_ragged_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_vectors(str(tmp_path / "missing.txt"))
    ragged = tmp_path / "r.txt"
    ragged.write_text("the 0.1 0.2 0.3\nparis 1 2\n")
    with pytest.raises(InputError, match=r"r\.txt"):
        load_vectors(str(ragged))
