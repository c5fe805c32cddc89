"""What training reads: vocabularies built from the data, the examples (sentences, context windows
or memory blocks) that tagging will read, and the augmented views of them (reflowed blocks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from ner.encoding.encode import Encoded, Encoder
from ner.encoding.reading import pack_places, pack_windows
from ner.encoding.vocab import Vocab, WordVocab, normalise
from ner.text.conll import Corpus, joined_digest
from ner.text.normalize import model_form
from ner.text.tags import Scheme, convert
from ner.training.embeddings import Vectors


def joined(first: Corpus, second: Corpus) -> Corpus:
    """Both corpora as one (for ``--final``: train + dev), their documents kept apart."""
    offset = 1 + max((s.document for s in first.sentences), default=0)
    moved = [replace(s, document=s.document + offset) for s in second.sentences]
    digest = joined_digest(first.sha256, second.sha256)
    return Corpus(f"{first.path}+{second.path}", first.sentences + moved, first.scheme, digest)


def build_vocabs(
    train: Corpus, vectors: Vectors, glove_limit: int, scheme: Scheme
) -> tuple[Encoder, list[str]]:
    """Word vocabulary: the first ``glove_limit`` pretrained words, then training words GloVe lacks
    (normalised). Returns the encoder and the singletons among those additions."""
    pretrained = WordVocab(vectors.words[:glove_limit])
    counts = Counter(model_form(t) for s in train.sentences for t in s.tokens)
    extra: Counter[str] = Counter()
    for token, n in counts.items():
        if pretrained.get(token) == pretrained.unk:
            hit = next((k for k in (token.lower(), normalise(token)) if k in vectors.index), None)
            extra[hit or normalise(token)] += n
    words = WordVocab(pretrained.items[2:] + sorted(extra))
    chars = Vocab(sorted({c for t in counts for c in t}))
    tag_set = {t for s in train.sentences for t in convert(s.tags, scheme)}
    tags = Vocab(["O", *sorted(tag_set - {"O"}, key=lambda t: (t[2:], t))], specials=False)
    singles = [w for w, n in extra.items() if n == 1 and w not in vectors.index]
    return Encoder(words, chars, tags), singles


def singleton_rows(
    encoder: Encoder, unvectored: list[str], encoded: list[Encoded], which: Literal["unvectored", "all"]
) -> torch.Tensor:
    """(words,) bool: the rows that ``unk_replace`` may hide. ``unvectored``: the singletons without a
    pretrained vector (from :func:`build_vocabs`); ``all``: every word row seen once in ``encoded``."""
    rows = torch.zeros(len(encoder.words), dtype=torch.bool)
    if which == "unvectored":
        rows[[encoder.words.index[w] for w in unvectored]] = True
        return rows
    counts = torch.bincount(torch.tensor([w for e in encoded for w in e.words]), minlength=len(rows))
    rows[counts == 1] = True
    rows[encoder.words.unk] = False
    return rows


def training_examples(data: Corpus, scheme: Scheme, context: int) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags in ``scheme``) to train on: each sentence, or with ``context`` > 0 the windows of
    consecutive sentences that tagging will read (:func:`ner.encoding.reading.pack_windows`). Tags are
    converted sentence by sentence, so that no entity runs across a boundary (IOB1 would allow it)."""
    if context <= 0:
        return [(s.tokens, convert(s.tags, scheme)) for s in data.sentences]
    documents = data.documents()
    windows, places = pack_windows([[s.tokens for s in d] for d in documents], context)
    examples = []
    for window, place in zip(windows, places):
        tags = [t for d, i, _, _ in place for t in convert(documents[d][i].tags, scheme)]
        examples.append((window, tags))
    return examples


_ENDS = frozenset({".", "!", "?", "...", "?!"})


_CLOSING = frozenset({'"', "'", ")", "]"})


@dataclass
class Reflowed:
    """Blocks of sentences as a splitter cuts flowing text (see ``TrainConfig.reflow``).

    Attributes:
        examples: the joined examples (tokens, tags), numbered from the first index past the originals.
        blocks: for each block, the indices it reads when reflowed (originals where nothing joins).
    """

    examples: list[tuple[list[str], list[str]]]
    blocks: list[list[int]]

    def substitute(self, batch: list[int], flowed: np.ndarray, block_of: dict[int, int]) -> list[int]:
        """``batch`` (whole blocks of original indices) with each flowed block read reflowed."""
        out: list[int] = []
        done: set[int] = set()
        for i in batch:
            b = block_of[i]
            if not flowed[b]:
                out.append(i)
            elif b not in done:
                out.extend(self.blocks[b])
                done.add(b)
        return out


def _ends_sentence(tokens: list[str]) -> bool:
    last = tokens[-1] if tokens else ""
    return last in _ENDS or (last in _CLOSING and len(tokens) > 1 and tokens[-2] in _ENDS)


def reflowed_blocks(
    examples: list[tuple[list[str], list[str]]], blocks: list[list[int]], cut: int = 128
) -> Reflowed:
    """Each block's sentences joined where flowing text gives a splitter no end (no final . ! ?),
    joined examples cut at ``cut`` tokens; new examples are numbered after ``examples``."""
    out = Reflowed([], [])
    for block in blocks:
        indices: list[int] = []
        run: list[int] = []
        for k, i in enumerate(block):
            run.append(i)
            if k + 1 < len(block) and not _ends_sentence(examples[i][0]):
                continue
            if len(run) == 1:
                indices.append(i)
            else:
                tokens = [t for j in run for t in examples[j][0]]
                tags = [t for j in run for t in examples[j][1]]
                for start in range(0, len(tokens), cut):
                    indices.append(len(examples) + len(out.examples))
                    out.examples.append((tokens[start : start + cut], tags[start : start + cut]))
            run = []
        out.blocks.append(indices)
    return out


def memory_blocks(data: Corpus, size: int) -> list[list[int]] | None:
    """For a model with document memory (``size`` > 0), the indices into ``data.sentences`` of each
    block of its documents that tagging will read together (:func:`ner.encoding.reading.pack_places`); None
    without memory."""
    if size <= 0:
        return None
    documents = data.documents()
    places = pack_places([[s.tokens for s in d] for d in documents], size)
    first = [0]
    for document in documents:
        first.append(first[-1] + len(document))
    return [[first[d] + i for d, i, _, _ in place] for place in places]
