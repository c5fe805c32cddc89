"""From a model's token-level predictions back to entities with character offsets in the text."""

from __future__ import annotations

from dataclasses import dataclass

from ner.core import Prediction
from ner.tokenize import Token


@dataclass(frozen=True)
class TextEntity:
    """An entity in a text: ``text[start:end] == self.text``; token indices count over the whole text."""

    text: str
    label: str
    start: int
    end: int
    score: float
    token_start: int
    token_end: int


def entities(text: str, sentences: list[list[Token]], predictions: list[Prediction]) -> list[TextEntity]:
    """Entities of one text, given its sentences and one prediction per sentence."""
    found = []
    base = 0
    for tokens, prediction in zip(sentences, predictions, strict=True):
        for e in prediction.entities:
            start, end = tokens[e.start].start, tokens[e.end - 1].end
            found.append(
                TextEntity(
                    text[start:end], e.label, start, end, round(e.score, 4), base + e.start, base + e.end
                )
            )
        base += len(tokens)
    return found
