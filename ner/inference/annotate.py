"""From a model's token-level predictions back to entities with character offsets in the text."""

from __future__ import annotations

from ner.text.normalize import SYMBOL, model_form
from ner.text.results import Prediction, TextEntity
from ner.text.tokenize import Token


def entities(text: str, sentences: list[list[Token]], predictions: list[Prediction]) -> list[TextEntity]:
    """Entities of one text, given its sentences and one prediction per sentence.

    A name never begins or ends with a quote, a dash or a symbol (an emoji): such tokens are trimmed
    from the entity's edges, and an entity of nothing else is dropped. The score stays that of the
    span the model found."""
    found = []
    base = 0
    for tokens, prediction in zip(sentences, predictions, strict=True):
        for e in prediction.entities:
            first, last = e.start, e.end
            while first < last and not _wordlike(tokens[first].text):
                first += 1
            while last > first and not _wordlike(tokens[last - 1].text):
                last -= 1
            if first == last:
                continue
            start, end = tokens[first].start, tokens[last - 1].end
            found.append(
                TextEntity(text[start:end], e.label, start, end, round(e.score, 4), base + first, base + last)
            )
        base += len(tokens)
    return found


_EDGES = frozenset({'"', "'", "`", "``", "''", "-", "--", "---", "...", ",", ";", ":", SYMBOL})


def _wordlike(token: str) -> bool:
    """Whether a token may begin or end a name: anything but quotes, dashes, commas and symbols
    (brackets may: CoNLL names such as "Proleter (Z)" end in one)."""
    return model_form(token) not in _EDGES
