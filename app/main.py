"""The app factory and ``ner serve``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI

from app.batcher import MicroBatcher
from app.deps import Ready
from app.metrics import Metrics
from app.middleware import MeasureAndLimit
from app.routes import meta, tag
from app.settings import Settings
from app.worker import process_worker, thread_worker
from ner import __version__
from ner.errors import InputError
from ner.models import default_model_path
from ner.process import freeze_loaded_objects
from ner.tagger import Tagger
from ner.tokenize import Tokenizer

log = logging.getLogger("app")


def load_tagger(settings: Settings) -> Tagger:
    """The checkpoint named by the settings, or the bundled one. Raises :class:`InputError`."""
    torch.set_num_threads(settings.model_threads())
    return Tagger.load(settings.model or default_model_path(), settings.device)


def create_app(settings: Settings | None = None, tagger: Tagger | None = None) -> FastAPI:
    """Build the service. ``tagger`` may be given already loaded; else the lifespan loads it."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = tagger or load_tagger(settings)
        tokenizer = Tokenizer(settings.sentence_tokens, loaded.tokenizer_style)  # the model's own
        if settings.worker == "process":
            path = Path(settings.model) if settings.model else default_model_path()
            make, predict = process_worker(
                path, settings.device, settings.model_threads(), settings.batch_size
            )
        else:
            make, predict = thread_worker(loaded, settings.batch_size)
        batcher = MicroBatcher(
            make,
            predict,
            settings.batch_size,
            settings.batch_wait_ms,
            settings.queue_limit,
            metrics,
        )
        await batcher.warm_up()
        freeze_loaded_objects()
        batcher.start()
        app.state.ready = Ready(loaded, batcher, tokenizer, settings, metrics)
        log.info("model %s ready on %s (%s worker)", loaded.name, loaded.device, settings.worker)
        try:
            yield
        finally:
            app.state.ready = None
            await batcher.stop()

    app = FastAPI(
        title="NER service",
        version=__version__,
        description="Named entities with character offsets and CRF confidences.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.ready = None
    app.include_router(tag.router)
    app.include_router(meta.router)

    app.add_middleware(MeasureAndLimit, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app


def _port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or ``None`` if it can (checked by binding it)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"unknown host: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve(overrides: dict[str, Any]) -> int:
    """Load the model (one clear line and exit code 2 if it cannot be), then run uvicorn."""
    import uvicorn

    settings = Settings(**overrides)
    busy = _port_taken(settings.host, settings.port)
    if busy is not None:  # before the model loads, not after
        log.error("cannot start: %s:%d is not free (%s)", settings.host, settings.port, busy)
        return 2
    try:
        tagger = load_tagger(settings)
    except InputError as exc:
        log.error("cannot start: %s", exc)
        return 2
    uvicorn.run(
        create_app(settings, tagger),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )
    return 0
