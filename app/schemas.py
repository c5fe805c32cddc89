"""Request and response bodies of ``POST /tag``."""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s")  # str.isspace's set: \s in Python's re is the same Unicode set


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
    # strict: true or false, as the schema says (not 0, 1 or "yes")
    return_tokens: bool = Field(False, strict=True, description="also return every token with its tag")
    document: bool = Field(
        False,
        strict=True,
        description="the token lists are the sentences of one document, read with each other's context "
        "by a model trained with document context or memory (default: each list alone; a text is always one "
        "document)",
    )

    @model_validator(mode="before")
    @classmethod
    def no_nulls(cls, data: object) -> object:
        """An absent field, not a null one: the published schema says so (see :func:`openapi_limits`)."""
        if isinstance(data, dict):
            for name in ("texts", "tokens"):
                if name in data and data[name] is None:
                    raise ValueError(f"'{name}' must be a list, not null (leave it out instead)")
        return data

    @model_validator(mode="after")
    def exactly_one(self) -> Self:
        if (self.texts is None) == (self.tokens is None):
            raise ValueError("give exactly one of 'texts' and 'tokens'")
        for i, text in enumerate(self.texts or []):
            _no_surrogate(text, f"texts[{i}]")
        for i, sentence in enumerate(self.tokens or []):
            # one search over the joined list, and a look at each token only when it finds something
            # (a request may hold 250,000 tokens: a Python loop over them costs a tenth of a second)
            joined = "\x00".join(sentence)
            if all(sentence) and not _SURROGATE.search(joined) and not _WHITESPACE.search(joined):
                continue
            for j, token in enumerate(sentence):
                _no_surrogate(token, f"tokens[{i}][{j}]")
                if not token or _WHITESPACE.search(token):
                    raise ValueError(f"tokens[{i}][{j}] is empty or holds whitespace")
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


# No token may hold a character that str.isspace calls whitespace: as a JSON Schema (ECMA) pattern,
# listed one by one, since ECMA's \\s is another set (it lacks U+001C-U+001F and U+0085, and has U+FEFF).
_SPACES = "".join(f"\\u{c:04x}" for c in range(0x3001) if chr(c).isspace())  # none lies above U+3000
_NO_SPACE = f"^[^{_SPACES}]+$"


def openapi_limits(
    schema: dict[str, Any], max_texts: int, max_chars: int, max_tokens: int, max_token_chars: int
) -> None:
    """Make the published TagRequest schema say what the service accepts: exactly one of 'texts'
    and 'tokens', neither null, tokens without whitespace, and this deployment's limits (a request
    over them gets a 413)."""
    components = schema.get("components")
    request = components.get("schemas", {}).get("TagRequest") if isinstance(components, dict) else None
    if not isinstance(request, dict):
        return
    properties = request["properties"]
    properties["texts"] = {
        "type": "array", "maxItems": max_texts, "description": properties["texts"].get("description", ""),
        "items": {"type": "string", "maxLength": max_chars},
    }  # fmt: skip
    properties["tokens"] = {
        "type": "array", "maxItems": max_texts, "description": properties["tokens"].get("description", ""),
        "items": {
            "type": "array", "maxItems": max_tokens,
            "items": {"type": "string", "minLength": 1, "maxLength": max_token_chars, "pattern": _NO_SPACE},
        },
    }  # fmt: skip
    request["oneOf"] = [{"required": ["texts"]}, {"required": ["tokens"]}]
