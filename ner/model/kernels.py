"""Numpy kernels that more than one backend (and the tagger around them) needs: the masking of
forbidden CRF moves, the document memory's keys and means, the mirror index that reads a sentence
backwards, and the layout of the character CNN's windows. One copy each; the PyTorch model calls the
index kernels too, and turns their arrays into tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ner.encoding.encode import REMEMBERED_CASINGS
from ner.model.crf import CrfScores

FORBIDDEN = -10000.0  # the score of a move the tag scheme forbids (and of padding in max-pooling)
BLOCK_STRIDE = 2**32  # memory key = block * BLOCK_STRIDE + word: a word's occurrences in one block
_REMEMBERED = np.isin(np.arange(8), REMEMBERED_CASINGS)  # casing class (0-7) -> its tokens remember


def masked_crf_scores(start: Any, transitions: Any, end: Any, allowed: np.ndarray) -> CrfScores:
    """The CRF's scores (numpy arrays) with the moves ``allowed`` forbids set to :data:`FORBIDDEN`,
    float32 and read-only. ``allowed`` is (num_tags + 2, num_tags + 2) bool: row ``num_tags`` is the
    start of a sentence, column ``num_tags + 1`` its end."""
    n = len(start)
    parts = (
        np.where(allowed[n, :n], start, FORBIDDEN),
        np.where(allowed[:n, :n], transitions, FORBIDDEN),
        np.where(allowed[:n, n + 1], end, FORBIDDEN),
    )
    out = [p.astype(np.float32) for p in parts]
    for array in out:
        array.flags.writeable = False
    return CrfScores(*out)


def memory_keys(blocks: Any, words: Any) -> Any:
    """The memory's key of each token: its word in its document block. Works on numpy arrays and
    torch tensors alike (int64): ``blocks`` (batch, 1) or (tokens,), ``words`` of a broadcastable shape."""
    return blocks * BLOCK_STRIDE + words


def remembering(seq: int, lengths: np.ndarray, words: np.ndarray, casing: np.ndarray) -> np.ndarray:
    """(batch, seq) bool: the tokens of a batch that read the document memory: capitalised
    (:data:`ner.encoding.encode.REMEMBERED_CASINGS`), a known word, not padding."""
    live: np.ndarray = np.arange(seq)[None, :] < lengths[:, None]
    live &= _REMEMBERED[casing] & (words > 1)  # words 0 and 1: padding and <unk>
    return live


def recall_flat(states: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The document memory over tokens laid end to end: for each of (tokens, dim) ``states``, the
    mean state of the other tokens with the same key (its word in its block); zeros for a key seen
    once."""
    if not len(keys):
        return np.zeros_like(states)
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))  # (words,)
    sums = np.add.reduceat(states[order], starts, axis=0)  # (words, dim)
    counts = np.diff(np.append(starts, len(keys)))  # (words,)
    which = np.empty(len(keys), dtype=np.intp)  # (tokens,): each token's word
    which[order] = np.repeat(np.arange(len(starts)), counts)
    others = np.maximum(counts[which] - 1, 1)[:, None].astype(states.dtype)
    result: np.ndarray = (sums[which] - states) / others  # exactly zero where the word is alone
    return result


def mirror(lengths: np.ndarray, seq: int) -> np.ndarray:
    """(batch, seq) positions that read each right-padded sentence backwards in place: position ``t``
    of a sentence of ``n`` tokens reads ``n - 1 - t``; padding stays where it is. Its own inverse."""
    steps = np.arange(seq)[None, :]  # (1, seq)
    mirrored = lengths[:, None] - 1 - steps  # (batch, seq)
    out: np.ndarray = np.where(mirrored >= 0, mirrored, steps)
    return out


def char_windows(chars: np.ndarray, window: int, outside: int) -> tuple[np.ndarray, np.ndarray]:
    """The character CNN as lookups: for (words, chars) 0-padded character indices, the index of each
    window position's character for every real character laid end to end (characters, window), with
    ``outside`` where a window reaches past its word (the convolution's zero padding), and the number
    of characters of each word (words,). Window position ``k`` of a character then adds
    ``table[k][index[:, k]]``, and a word's features are the max over its characters."""
    edge = window // 2
    real = chars != 0  # (words, chars)
    # The words end to end, each followed by ``edge`` outside slots and ``edge`` more before the
    # first, so that no window reaches from one word into the next.
    gap = np.full((len(chars), edge), outside)  # (words, edge)
    keep = np.concatenate([real, np.ones(gap.shape, dtype=bool)], axis=1)  # (words, chars + edge)
    flat = np.concatenate([np.full(edge, outside), np.concatenate([chars, gap], axis=1)[keep]])
    letters = edge + np.flatnonzero(flat[edge:] != outside)  # (characters,): where each one lies
    index: np.ndarray = flat[letters[:, None] + np.arange(-edge, edge + 1)]  # (characters, window)
    return index, real.sum(axis=1)


def mark_bits(codes: np.ndarray | None, width: int) -> np.ndarray:
    """(batch, seq) int64 bitmasks of the name lists' marks -> (batch, seq, width) float32 0/1 features
    (bit ``i`` is feature ``i``; :meth:`ner.text.gazetteer.Gazetteer.codes`).

    Raises:
        ValueError: no marks (``None``): arrays encoded without the model's gazetteer.
    """
    if codes is None:
        raise ValueError("this model reads name lists: encode with its gazetteer")
    bits: np.ndarray = ((codes[..., None] >> np.arange(width, dtype=np.int64)) & 1).astype(np.float32)
    return bits
