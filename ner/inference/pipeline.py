"""Raw text (or token lists) to entities, in stages that every entry point shares.

``prepare_*`` tokenises and splits into sentences and plans what the model reads (pure Python, no
model); the model reads :attr:`Prepared.plan`'s units wherever the caller runs it (here, a worker
thread, a batcher's worker process); :func:`entities_of` and :func:`render` turn its predictions
back into entities with character offsets. ``Tagger.tag_texts``, ``POST /tag`` and ``ner tag`` all
go through these functions, so the same text gives the same entities through each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ner.encoding.reading import ReadingPlan
from ner.inference.annotate import entities
from ner.text.results import Prediction, TextEntity
from ner.text.tokenize import Token, Tokenizer, join_tokens


class Planner(Protocol):
    """What preparing needs of a tagger: how its model reads documents."""

    def reading_plan(self, documents: list[list[list[str]]]) -> ReadingPlan: ...


@dataclass(frozen=True)
class Prepared:
    """Texts split into sentences of tokens with offsets, and what the model reads for them.

    Attributes:
        texts: the strings that offsets index (pre-tokenised input: its tokens joined by spaces).
        split: each text's sentences.
        plan: the units the model reads, and the way back to the sentences.
        tokens: how many tokens in all.
    """

    texts: list[str]
    split: list[list[list[Token]]]
    plan: ReadingPlan
    tokens: int


class TooManyTokens(Exception):
    """Texts that make more tokens than the caller can take (found while tokenising, which stops)."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"more than {limit} tokens (at least {tokens})")
        self.tokens = tokens
        self.limit = limit


def prepare_texts(
    tagger: Planner, tokenizer: Tokenizer, texts: list[str], max_tokens: int | None = None
) -> Prepared:
    """Raw texts, each one document.

    Raises:
        TooManyTokens: the texts make more than ``max_tokens`` tokens; tokenising stops at the first
            text past it, so the work spent on such input stays bounded.
    """
    split: list[list[list[Token]]] = []
    tokens = 0
    for text in texts:
        sentences = tokenizer.sentences(text)
        tokens += sum(map(len, sentences))
        if max_tokens is not None and tokens > max_tokens:
            raise TooManyTokens(tokens, max_tokens)
        split.append(sentences)
    return _prepared(tagger, texts, split, document=False)


def prepare_split(tagger: Planner, texts: list[str], split: list[list[list[Token]]]) -> Prepared:
    """Raw texts already split into sentences (by :meth:`Tokenizer.sentences`), each one document."""
    return _prepared(tagger, texts, split, document=False)


def prepare_token_lists(
    tagger: Planner, token_lists: list[list[str]], sentence_tokens: int, document: bool = False
) -> Prepared:
    """Pre-tokenised lists, each alone (cut into sentences of ``sentence_tokens``), or with
    ``document`` the sentences of one document."""
    texts: list[str] = []
    split: list[list[list[Token]]] = []
    for tokens in token_lists:
        text, toks = join_tokens(tokens)
        texts.append(text)
        split.append([toks[i : i + sentence_tokens] for i in range(0, len(toks), sentence_tokens)])
    return _prepared(tagger, texts, split, document)


def _prepared(tagger: Planner, texts: list[str], split: list[list[list[Token]]], document: bool) -> Prepared:
    documents = [[[t.word for t in sentence] for sentence in sentences] for sentences in split]
    if document:
        documents = [[s for d in documents for s in d]]
    tokens = sum(len(s) for d in documents for s in d)
    return Prepared(texts, split, tagger.reading_plan(documents), tokens)


def sentence_predictions(prepared: Prepared, read: list[Prediction]) -> list[list[Prediction]]:
    """The predictions of the plan's units, as each text's sentences."""
    flat = [p for document in prepared.plan.regroup(read) for p in document]
    out: list[list[Prediction]] = []
    position = 0
    for sentences in prepared.split:
        out.append(flat[position : position + len(sentences)])
        position += len(sentences)
    return out


def entities_of(prepared: Prepared, read: list[Prediction]) -> list[list[TextEntity]]:
    """Each text's entities, from the predictions of the plan's units."""
    by_text = sentence_predictions(prepared, read)
    return [entities(t, s, p) for t, s, p in zip(prepared.texts, prepared.split, by_text)]


def render(prepared: Prepared, read: list[Prediction], model: str, return_tokens: bool = False) -> bytes:
    """The ``POST /tag`` response body, as UTF-8 JSON.

    Plain dictionaries in ``TagResponse``'s shape: a pydantic model here would be validated again on
    the way out, which cost more than the rest of the request handling (tests check the shape)."""
    results: list[dict[str, Any]] = []
    by_text = sentence_predictions(prepared, read)
    for text, sentences, mine in zip(prepared.texts, prepared.split, by_text):
        tokens_out = None
        if return_tokens:
            tokens_out = [
                {"text": t.text, "start": t.start, "end": t.end, "tag": tag}
                for sentence, prediction in zip(sentences, mine)
                for t, tag in zip(sentence, prediction.tags)
            ]
        results.append({"entities": [vars(e) for e in entities(text, sentences, mine)], "tokens": tokens_out})
    body = {"model": model, "results": results}
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
