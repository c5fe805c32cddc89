"""Token lists to padded index arrays with the model's vocabularies (numpy only: no torch here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from ner.encoding.vocab import Vocab, WordVocab
from ner.text.gazetteer import Gazetteer
from ner.text.normalize import model_form

MAX_WORD_CHARS = 24
CACHE_TOKENS = 200_000  # encodings of this many distinct tokens are remembered between batches
CACHE_TOKEN_CHARS = 32  # ... if they are no longer than this (so the cache is bounded in bytes too)


# Casing classes (of :func:`casing`) whose tokens take part in the document memory: all capitals, a
# capital first and mixed case. Lower-case words ("us", "may") would mix in their other senses.
REMEMBERED_CASINGS = (4, 5, 7)


def casing(token: str) -> int:
    """A small casing class (1-7; 0 is padding) that GloVe's lower-cased vectors cannot carry."""
    if token.isalpha():  # most tokens: no digits, so skip counting them
        if token.islower():
            return 3
        if token.isupper():
            return 4
        return 5 if token[0].isupper() else 7
    if token.isdigit():
        return 1
    digits = sum(map(str.isdigit, token))
    if digits / max(len(token), 1) > 0.5:
        return 2
    if token.islower():
        return 3
    if token.isupper():
        return 4
    if token[:1].isupper():
        return 5
    if digits:
        return 6
    return 7


@dataclass
class Encoded:
    """One sentence as indices: words (seq,), characters per word, casing classes, tags (or [])."""

    words: list[int]
    chars: list[list[int]]
    casing: list[int]
    tags: list[int]
    gazetteer: list[int] = field(default_factory=list)  # per token, with name lists: their marks


@dataclass
class Arrays:
    """A batch of sentences as padded numpy arrays, as :class:`ner.encoding.batch.Batch` holds them."""

    words: np.ndarray  # (batch, seq) int64
    chars: np.ndarray  # (distinct words + 1, chars): each distinct spelling once; row 0 is padding
    char_index: np.ndarray  # (batch, seq): the row of ``chars`` that spells each token
    casing: np.ndarray  # (batch, seq)
    mask: np.ndarray  # (batch, seq) bool, right-padded
    lengths: np.ndarray  # (batch,)
    tags: np.ndarray | None = None  # (batch, seq) for tagged sentences (training)
    # (batch, seq) int64, with name lists: each token's marks (ner.text.gazetteer.Gazetteer.codes)
    gazetteer: np.ndarray | None = None


def pad(sentences: list[Encoded]) -> Arrays:
    """Encoded sentences (none empty) as padded arrays, each distinct spelling once in ``chars``; with
    ``tags`` if every sentence has them."""
    lengths = np.fromiter((len(s.words) for s in sentences), dtype=np.int64, count=len(sentences))
    mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch, seq)
    rows: dict[tuple[int, ...], int] = {}  # spelling -> row - 1 (row 0 is padding)
    index = [rows.setdefault(tuple(c), len(rows)) + 1 for s in sentences for c in s.chars]

    def filled(values: Iterable[int]) -> np.ndarray:
        out = np.zeros(mask.shape, dtype=np.int64)
        out[mask] = np.fromiter(values, dtype=np.int64, count=int(lengths.sum()))
        return out

    tagged = all(s.tags for s in sentences)
    listed = all(s.gazetteer for s in sentences)
    return Arrays(
        filled(chain.from_iterable(s.words for s in sentences)),
        _char_table(list(rows)),
        filled(index),
        filled(chain.from_iterable(s.casing for s in sentences)),
        mask,
        lengths,
        filled(chain.from_iterable(s.tags for s in sentences)) if tagged else None,
        filled(chain.from_iterable(s.gazetteer for s in sentences)) if listed else None,
    )


def _char_table(spelled: Sequence[Sequence[int]]) -> np.ndarray:
    """(spellings + 1, longest) character indices, row 0 all padding, each spelling 0-padded."""
    widths = np.fromiter(map(len, spelled), dtype=np.int64, count=len(spelled))
    chars = np.zeros((len(spelled) + 1, int(widths.max())), dtype=np.int64)
    chars[1:][np.arange(chars.shape[1])[None, :] < widths[:, None]] = np.fromiter(
        chain.from_iterable(spelled), dtype=np.int64, count=int(widths.sum())
    )
    return chars


class Encoder:
    """Maps tokens and tags to indices with the model's vocabularies."""

    def __init__(
        self, words: WordVocab, chars: Vocab, tags: Vocab, gazetteer: Gazetteer | None = None
    ) -> None:
        self.words = words
        self.chars = chars
        self.tags = tags
        self.gazetteer = gazetteer  # name lists whose marks each token carries, or None
        self._known: dict[str, tuple[int, int, list[int]]] = {}  # token -> (word, casing, characters)

    def cache_clear(self) -> None:
        """Forget remembered token encodings (benchmarks call this to time a cold start)."""
        self._known.clear()

    def spell(self, token: str) -> list[int]:
        """Character indices of ``token``, cut to ``MAX_WORD_CHARS`` (``[<unk>]`` for an empty token)."""
        index, unk = self.chars.index, self.chars.unk
        return [index.get(c, unk) for c in token[:MAX_WORD_CHARS]] or [unk]

    def encode(self, tokens: list[str], tags: list[str] | None = None) -> Encoded:
        """One sentence, each token read in its model form (:func:`ner.text.normalize.model_form`)."""
        forms = [model_form(t) for t in tokens]
        return Encoded(
            words=[self.words.get(t) for t in forms],
            chars=[self.spell(t) for t in forms],
            casing=[casing(t) for t in forms],
            tags=[] if tags is None else [self.tags.index[t] for t in tags],
            gazetteer=[] if self.gazetteer is None else self.gazetteer.codes(tokens),
        )

    def arrays(self, sentences: list[list[str]]) -> Arrays:
        """Padded arrays for untagged sentences (none empty), as :func:`pad` of their encodings gives
        (``ner.encoding.batch.Batch.of`` makes them tensors).

        The fast path for tagging: each distinct token of the batch is read in its model form and
        looked up once (and remembered
        for later batches, up to ``CACHE_TOKENS`` tokens of up to ``CACHE_TOKEN_CHARS`` characters), and
        the padded arrays are filled by numpy
        indexing rather than token by token."""
        tokens = list(chain.from_iterable(sentences))
        rows = {t: i for i, t in enumerate(dict.fromkeys(tokens), 1)}  # token -> row; row 0 is padding
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch, seq)
        char_index = np.zeros(mask.shape, dtype=np.int64)
        char_index[mask] = np.fromiter(map(rows.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        known = self._known
        fresh = {}
        for t in rows:
            if t not in known:
                form = t if t.isascii() else model_form(t)  # most tokens: no call
                fresh[t] = (self.words.get(form), casing(form), self.spell(form))
        encoded = [known.get(t) or fresh[t] for t in rows]
        if len(known) + len(fresh) > CACHE_TOKENS:
            known.clear()  # bounded memory; refilling costs one batch's worth of lookups
        if len(fresh) <= CACHE_TOKENS:
            known.update((t, e) for t, e in fresh.items() if len(t) <= CACHE_TOKEN_CHARS)
        word_rows, case_rows, spelled = zip(*encoded)
        chars = _char_table(spelled)
        words = np.fromiter(chain((0,), word_rows), dtype=np.int64, count=len(rows) + 1)
        cases = np.fromiter(chain((0,), case_rows), dtype=np.int64, count=len(rows) + 1)
        arrays = Arrays(words[char_index], chars, char_index, cases[char_index], mask, lengths)
        if self.gazetteer is not None:
            marks = np.zeros(mask.shape, dtype=np.int64)
            marks[mask] = np.fromiter(
                chain.from_iterable(map(self.gazetteer.codes, sentences)), dtype=np.int64, count=len(tokens)
            )
            arrays.gazetteer = marks
        return arrays
