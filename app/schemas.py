"""Request and response bodies of ``POST /tag``."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogate(text: str, where: str) -> None:
    """JSON may escape half of a UTF-16 pair (``"\\ud800"``), which is no character at all: such a
    string cannot be tokenised or sent back."""
    found = _SURROGATE.search(text)
    if found:
        raise ValueError(
            f"{where} holds a lone surrogate (U+{ord(found.group()):04X}) at character {found.start()}: "
            "not Unicode text"
        )


class TagRequest(BaseModel):
    """Raw texts or pre-tokenised sentences: exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"texts": ["U.N. official Ekeus heads for Baghdad."]}],
            "description": "Exactly one of 'texts' and 'tokens' (422 otherwise).",
        },
    )

    texts: list[str] | None = Field(None, description="raw texts, tokenised by the service")
    tokens: list[list[str]] | None = Field(
        None, description="pre-tokenised texts; offsets index the tokens joined by single spaces"
    )
    return_tokens: bool = Field(False, description="also return every token with its tag")

    @model_validator(mode="after")
    def exactly_one(self) -> Self:
        if (self.texts is None) == (self.tokens is None):
            raise ValueError("give exactly one of 'texts' and 'tokens'")
        for i, text in enumerate(self.texts or []):
            _no_surrogate(text, f"texts[{i}]")
        for i, sentence in enumerate(self.tokens or []):
            for j, token in enumerate(sentence):
                _no_surrogate(token, f"tokens[{i}][{j}]")
                if not token or any(c.isspace() for c in token):
                    raise ValueError(f"tokens[{i}][{j}] is empty or holds whitespace: {token[:100]!r}")
        return self


class EntityOut(BaseModel):
    text: str = Field(description="the entity's characters: input[start:end]")
    label: str
    start: int = Field(description="character offset (Python str index) of the first character")
    end: int = Field(description="character offset just past the last character")
    score: float = Field(description="probability of this labelled span under the CRF")
    token_start: int
    token_end: int = Field(description="exclusive")


class TokenOut(BaseModel):
    text: str
    start: int
    end: int
    tag: str


class ResultOut(BaseModel):
    entities: list[EntityOut]
    tokens: list[TokenOut] | None = None


class TagResponse(BaseModel):
    model: str
    results: list[ResultOut]


class ErrorOut(BaseModel):
    detail: str
    limit: str | None = None
    max: int | None = None
