"""Dependencies: what routes get from ``app.state``, as named ``Annotated`` aliases.

``POST /tag`` takes everything it needs through one dependency (``ReadyDep``): FastAPI's dependency
solving costs tens of microseconds per dependency per request. They are ``async def`` on purpose:
FastAPI runs a plain ``def`` dependency in a thread pool, a thread hand-off per request.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.batcher import MicroBatcher
from app.metrics import Metrics
from app.settings import Settings
from ner.inference.tagger import Tagger
from ner.text.tokenize import Tokenizer


@dataclass(frozen=True)
class Ready:
    """The loaded service, set on ``app.state.ready`` by the lifespan once the model answers."""

    tagger: Tagger
    batcher: MicroBatcher
    tokenizer: Tokenizer
    settings: Settings
    metrics: Metrics
    prep: Executor  # tokenising and building entities: off the event loop, one thread


async def _ready(request: Request) -> Ready:
    ready: Ready | None = getattr(request.app.state, "ready", None)
    if ready is None:
        raise HTTPException(503, "the model is not loaded yet", headers={"Retry-After": "1"})
    return ready


async def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


ReadyDep = Annotated[Ready, Depends(_ready)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
