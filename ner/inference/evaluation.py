"""Scoring a tagger on a tagged corpus, as ``ner evaluate`` does: entity P / R / F1 per type, with a
word when the model and the data disagree on types, or when the model saw the data in training."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ner.inference.tagger import Tagger
from ner.runtime import InputError
from ner.text.conll import Corpus, joined_digest
from ner.text.evaluate import Report, evaluate

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """A tagger's scores on a corpus, and how the model saw that corpus in training ('' if not)."""

    report: Report
    seen: str


def seen_in_training(metadata: dict[str, Any], sha256: str) -> str:
    """How a model saw the data with digest ``sha256`` in training ('' if it did not). A ``--final``
    model's training digest is that of train + dev joined (:func:`ner.text.conll.joined_digest`)."""
    trained, dev = metadata.get("train", {}).get("sha256"), metadata.get("dev", {}).get("sha256")
    final = bool(metadata.get("train_config", {}).get("final")) and dev is not None
    if trained == sha256 or (final and trained == joined_digest(sha256, dev)):
        return "its training data"
    if final and dev == sha256:
        return "the dev file of a --final model"
    return ""


def type_mismatch(tagger: Tagger, data: Corpus) -> str:
    """What the model and the data disagree on about entity types ('' if nothing)."""
    model_types = set(tagger.labels)
    data_types = {t[2:] for s in data.sentences for t in s.tags if t != "O"}
    if model_types == data_types:
        return ""
    shared = model_types & data_types
    what = "share no entity types" if not shared else "share only " + ", ".join(sorted(shared))
    missing = [
        f"{side} lacks {', '.join(sorted(types))}"
        for side, types in (("the model", data_types - model_types), ("the data", model_types - data_types))
        if types
    ]
    return f"the model and the data {what}: {'; '.join(missing)}"


def evaluate_tagger(tagger: Tagger, data: Corpus, strict: bool = False) -> Evaluation:
    """Tag ``data``'s documents as the model reads documents and score the tags against the gold.

    Raises:
        InputError: with ``strict``, when the model and the data disagree on entity types (else a
            warning).
    """
    mismatch = type_mismatch(tagger, data)
    if mismatch and strict:
        raise InputError(mismatch, data.path)
    if mismatch:
        log.warning("%s: %s (--strict makes this an error)", data.path, mismatch)
    documents = data.documents()
    predicted = [t for d in tagger.tag_documents([[s.tokens for s in d] for d in documents]) for t in d]
    seen = seen_in_training(tagger.metadata, data.sha256)
    if seen:
        log.warning("%s is %s: this score is on data the model saw in training", data.path, seen)
    return Evaluation(evaluate([s.tags for s in data.sentences], predicted), seen)
