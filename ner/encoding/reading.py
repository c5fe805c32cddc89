"""What a model reads for some documents: sentences alone, memory blocks or context windows of
consecutive sentences, and the way back from what it read to each document's sentences. Numpy-free
and model-free, so that the text pipeline and training plan reading without the tagger."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from ner.encoding.packing import pack
from ner.text.results import Entity, Prediction
from ner.text.tags import Scheme, Span, tags_from_spans

Place = tuple[int, int, int, int]  # (document, sentence, first token in the window, tokens)


def pack_places(documents: list[list[list[str]]], size: int) -> list[list[Place]]:
    """Where each sentence lies when consecutive sentences of each document are joined into windows
    (or memory blocks) of at most ``size`` tokens; a longer sentence makes a window of its own."""
    places: list[list[Place]] = []
    for d, document in enumerate(documents):
        lengths = [len(sentence) for sentence in document]
        for window in pack(lengths, size):
            first = accumulate((lengths[s] for s in window[:-1]), initial=0)  # tokens before each
            places.append([(d, s, at, lengths[s]) for s, at in zip(window, first)])
    return places


def pack_windows(documents: list[list[list[str]]], size: int) -> tuple[list[list[str]], list[list[Place]]]:
    """The windows of :func:`pack_places` as token lists, and where each sentence lies in its window."""
    places = pack_places(documents, size)
    windows = [[t for d, s, _, _ in where for t in documents[d][s]] for where in places]
    return windows, places


def unpack_windows(
    read: list[Prediction], places: list[list[Place]], sizes: list[int], scheme: Scheme
) -> list[list[Prediction]]:
    """Predictions of windows back to their sentences: ``sizes`` gives each document's sentence count.
    Entity positions become positions in the sentence; one that crosses into the next sentence (the
    model was trained on sentence-bound entities, so it is rare) is cut at the boundary."""
    results: list[list[Prediction]] = [[Prediction([], [])] * n for n in sizes]
    for prediction, place in zip(read, places):
        for d, s, offset, length in place:
            mine = [
                Entity(e.start - offset, min(e.end, offset + length) - offset, e.label, e.score)
                for e in prediction.entities
                if offset <= e.start < offset + length
            ]
            spans = [Span(e.start, e.end, e.label) for e in mine]
            results[d][s] = Prediction(tags_from_spans(spans, length, scheme), mine)
    return results


@dataclass
class ReadingPlan:
    """The units a model reads for some documents, and the way back to their sentences: each sentence
    (no context, or document memory with ``groups``, each sentence's block), or windows of several
    sentences (document context)."""

    units: list[list[str]]
    groups: list[int] | None  # for document memory: the block of each unit
    places: list[list[Place]]  # where each sentence lies among the units
    sizes: list[int]  # sentences per document
    windows: bool  # whether units are windows of several sentences
    scheme: Scheme

    @classmethod
    def of(cls, documents: list[list[list[str]]], context: int, memory: int, scheme: Scheme) -> ReadingPlan:
        sizes = [len(d) for d in documents]
        if context > 0:
            windows, places = pack_windows(documents, context)
            return cls(windows, None, places, sizes, True, scheme)
        places = pack_places(documents, memory if memory > 0 else 1)  # 1: each sentence its own
        units = [documents[d][s] for place in places for d, s, _, _ in place]
        groups = [b for b, place in enumerate(places) for _ in place] if memory > 0 else None
        return cls(units, groups, places, sizes, False, scheme)

    def regroup(self, read: list[Prediction]) -> list[list[Prediction]]:
        """The predictions of :attr:`units`, as each document's sentences."""
        if self.windows:
            return unpack_windows(read, self.places, self.sizes, self.scheme)
        out: list[list[Prediction]] = [[] for _ in self.sizes]
        for prediction, (d, _, _, _) in zip(read, (p for place in self.places for p in place)):
            out[d].append(prediction)  # places run in document order
        return out
