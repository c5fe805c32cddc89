"""Dependencies: what routes get from ``app.state``, as named ``Annotated`` aliases.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool, which
cost a thread hand-off per dependency per request (a third of the event loop's time under load).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.batcher import MicroBatcher
from app.metrics import Metrics
from app.settings import Settings
from ner.tagger import Tagger
from ner.tokenize import Tokenizer


async def _tagger(request: Request) -> Tagger:
    tagger: Tagger | None = getattr(request.app.state, "tagger", None)
    if tagger is None:
        raise HTTPException(503, "the model is not loaded yet", headers={"Retry-After": "1"})
    return tagger


async def _batcher(request: Request) -> MicroBatcher:
    return request.app.state.batcher  # type: ignore[no-any-return]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def _tokenizer(request: Request) -> Tokenizer:
    return request.app.state.tokenizer  # type: ignore[no-any-return]


async def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


TaggerDep = Annotated[Tagger, Depends(_tagger)]
BatcherDep = Annotated[MicroBatcher, Depends(_batcher)]
SettingsDep = Annotated[Settings, Depends(_settings)]
TokenizerDep = Annotated[Tokenizer, Depends(_tokenizer)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
