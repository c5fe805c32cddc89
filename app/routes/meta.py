"""Liveness, readiness, the model card and Prometheus metrics."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import MetricsDep, ReadyDep
from ner import __version__

router = APIRouter(tags=["service"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get(
    "/ready", responses={503: {"description": "the model is loading, or a model worker is being replaced"}}
)
async def ready(request: Request) -> Response:
    """200 once the model is loaded and every model worker answers; 503 before, and while a worker
    that failed is being replaced."""
    state = getattr(request.app.state, "ready", None)
    if state is None:
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
    workers = {"ready": state.batcher.workers_ready(), "total": state.batcher.lanes}
    if not state.batcher.ready:
        return JSONResponse(
            {"status": "restarting", "workers": workers}, status_code=503, headers={"Retry-After": "2"}
        )
    return JSONResponse({"status": "ready", "workers": workers})


@router.get("/info", responses={503: {"description": "the model is not loaded yet"}})
async def info(ready: ReadyDep) -> dict[str, Any]:
    """The model card: labels, dev scores, sizes, versions, device."""
    tagger = ready.tagger
    meta = tagger.metadata
    config, sizes = tagger.config, tagger.sizes
    return {
        "model": tagger.name,
        "labels": tagger.labels,
        "tag_scheme": {"model": tagger.model_scheme, "output": tagger.data_scheme},
        "tokenizer": tagger.tokenizer_style,
        "dev_scores": meta.get("dev_scores"),
        "epoch": meta.get("epoch"),
        "score_temperature": tagger.temperature,
        "trained": meta.get("date"),
        "sizes": {
            "words": sizes.words,
            "chars": sizes.chars,
            "parameters": tagger.backend.parameters,
            "hidden": config.hidden,
            "layers": config.layers,
            "cell": config.cell,
        },
        "device": tagger.device,
        "workers": ready.batcher.lanes,
        "backend": tagger.backend.kind,
        "versions": {"ner": __version__, "torch": _torch_version(), "trained_with": meta.get("versions")},
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
)
async def metrics(m: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


def _torch_version() -> str | None:
    """PyTorch's version where it is loaded (None in the slim image, which has none)."""
    torch = sys.modules.get("torch")
    return None if torch is None else str(torch.__version__)
