"""Numpy kernels shared by the backends and the tagger (:mod:`ner.model.kernels`)."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from ner.model.kernels import (
    FORBIDDEN,
    char_windows,
    masked_crf_scores,
    memory_keys,
    mirror,
    recall_flat,
    remembering,
)
from ner.model.network import recall_means


def test_forbidden_moves_are_pushed_down_and_the_rest_kept() -> None:
    n = 2
    allowed = np.ones((n + 2, n + 2), dtype=bool)
    allowed[n, 1] = False  # no sentence starts with tag 1
    allowed[0, 1] = False  # 0 -> 1 is forbidden
    allowed[1, n + 1] = False  # no sentence ends with tag 1
    scores = masked_crf_scores(np.array([1.0, 2.0]), np.ones((2, 2)), np.array([3.0, 4.0]), allowed)
    assert scores.start.tolist() == [1.0, FORBIDDEN]
    assert scores.transitions.tolist() == [[1.0, FORBIDDEN], [1.0, 1.0]]
    assert scores.end.tolist() == [3.0, FORBIDDEN]
    assert scores.start.dtype == np.float32 and not scores.transitions.flags.writeable


def test_memory_keys_tell_words_of_different_blocks_apart_in_numpy_and_torch() -> None:
    blocks, words = np.array([[0], [1]]), np.array([[5, 6], [5, 6]])
    keys = memory_keys(blocks, words)
    assert len(np.unique(keys)) == 4
    assert memory_keys(torch.from_numpy(blocks), torch.from_numpy(words)).numpy().tolist() == keys.tolist()


def test_only_capitalised_known_real_tokens_remember() -> None:
    lengths = np.array([3, 1])
    words = np.array([[7, 1, 7], [7, 7, 0]])  # word 1 is <unk>, 0 padding
    casing = np.array([[5, 5, 3], [4, 4, 0]])  # 3: lower case; 4 and 5: capitals
    assert remembering(3, lengths, words, casing).tolist() == [[True, False, False], [True, False, False]]


@given(st.lists(st.integers(0, 4), min_size=1, max_size=30))
def test_recall_in_numpy_equals_the_torch_mean(keys: list[int]) -> None:
    rng = np.random.default_rng(len(keys))
    states = rng.normal(size=(len(keys), 3)).astype(np.float32)
    expected = recall_means(torch.from_numpy(states), torch.tensor(keys)).numpy()
    np.testing.assert_allclose(recall_flat(states, np.array(keys)), expected, atol=1e-5)


def test_mirror_reads_each_sentence_backwards_and_undoes_itself() -> None:
    lengths = np.array([3, 1, 4])
    flip = mirror(lengths, 4)
    assert flip.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]
    rows = np.arange(3)[:, None]
    assert (flip[rows, flip] == np.arange(4)).all()


def test_char_windows_lay_out_the_convolution_of_each_word() -> None:
    chars = np.array([[3, 4, 0], [5, 0, 0], [0, 0, 0]])  # "ab", "c", a padding row
    outside = 9
    index, counts = char_windows(chars, 3, outside)
    assert counts.tolist() == [2, 1, 0]
    assert index.tolist() == [[outside, 3, 4], [3, 4, outside], [outside, 5, outside]]
