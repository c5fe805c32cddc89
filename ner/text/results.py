"""What tagging gives back: plain result types, importing nothing of the project (every layer may
use them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    """Tokens ``start`` to ``end`` (exclusive) labelled ``label``, with the CRF's probability."""

    start: int
    end: int
    label: str
    score: float


@dataclass(frozen=True)
class Prediction:
    """One sentence's tags (in the data's scheme) and entities."""

    tags: list[str]
    entities: list[Entity]


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
