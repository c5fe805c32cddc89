"""Padded index tensors for the PyTorch model, and grouping sentences of similar length."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ner.encoding.encode import Arrays, Encoded, pad
from ner.encoding.packing import pack


@dataclass
class Batch:
    """Padded tensors for a batch of sentences; ``mask`` is built here once and nowhere else."""

    words: Tensor  # (batch, seq)
    chars: Tensor  # (distinct words + 1, chars): each distinct spelling once; row 0 is padding
    char_index: Tensor  # (batch, seq): the row of ``chars`` that spells each token
    casing: Tensor  # (batch, seq)
    mask: Tensor  # (batch, seq) bool, right-padded
    lengths: Tensor  # (batch,) on the CPU, as pack_padded_sequence wants
    tags: Tensor | None  # (batch, seq) or None when untagged
    # (batch,): the document block of each sentence, for a model with document memory; None: each
    # sentence is a block of its own
    groups: Tensor | None = None
    gazetteer: Tensor | None = None  # (batch, seq) int64 marks of the name lists, for a model with them

    @classmethod
    def of(cls, arrays: Arrays) -> Batch:
        """Tensors sharing the arrays' memory."""
        return cls(
            torch.from_numpy(arrays.words),
            torch.from_numpy(arrays.chars),
            torch.from_numpy(arrays.char_index),
            torch.from_numpy(arrays.casing),
            torch.from_numpy(arrays.mask),
            torch.from_numpy(arrays.lengths),
            None if arrays.tags is None else torch.from_numpy(arrays.tags),
            gazetteer=None if arrays.gazetteer is None else torch.from_numpy(arrays.gazetteer),
        )

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.words.to(device, non_blocking=True),
            self.chars.to(device, non_blocking=True),
            self.char_index.to(device, non_blocking=True),
            self.casing.to(device, non_blocking=True),
            self.mask.to(device, non_blocking=True),
            self.lengths,
            None if self.tags is None else self.tags.to(device, non_blocking=True),
            None if self.groups is None else self.groups.to(device, non_blocking=True),
            None if self.gazetteer is None else self.gazetteer.to(device, non_blocking=True),
        )


def collate(sentences: list[Encoded], groups: list[int] | None = None) -> Batch:
    """Pad encoded sentences (none empty) to the longest one (:func:`ner.encoding.encode.pad`);
    ``groups`` gives each one's document block (see :attr:`Batch.groups`).

    Characters are stored once per distinct spelling in the batch (a batch of newswire repeats most
    words), so the character CNN runs on far fewer rows than there are tokens."""
    batch = Batch.of(pad(sentences))
    if groups is not None:
        batch.groups = torch.tensor(groups)
    return batch


def buckets(lengths: list[int], batch_size: int, rng: np.random.Generator) -> Iterator[list[int]]:
    """Batches of indices of similar length, in random order: sort by length with a little noise so
    batches differ between epochs, cut into ``batch_size`` pieces, shuffle the pieces."""
    noisy = np.asarray(lengths, dtype=np.float64) + rng.uniform(0, 2, len(lengths))
    order = np.argsort(noisy, kind="stable")
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    for k in rng.permutation(len(batches)):
        yield batches[k]


def block_batches(blocks: list[list[int]], batch_size: int, rng: np.random.Generator) -> Iterator[list[int]]:
    """Batches of whole blocks (lists of sentence indices), in random order: blocks are shuffled and
    joined until a batch holds ``batch_size`` sentences (a bigger block makes a batch of its own)."""
    shuffled = [blocks[k] for k in rng.permutation(len(blocks))]
    for batch in pack([len(block) for block in shuffled], batch_size):
        yield [i for b in batch for i in shuffled[b]]
