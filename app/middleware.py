"""A plain ASGI middleware: request metrics and the body-size limit (cheaper than BaseHTTPMiddleware)."""

from __future__ import annotations

import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import Metrics


class MeasureAndLimit:
    """Counts requests and latency by route and status; answers 413 to a declared body over the limit."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        length = dict(scope["headers"]).get(b"content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                limit = self.max_body_bytes
                response = JSONResponse(
                    status_code=413,
                    content={
                        "detail": f"request body exceeds max_body_bytes={limit}",
                        "limit": "max_body_bytes",
                        "max": limit,
                    },
                )
                await response(scope, receive, record)
            else:
                await self.app(scope, receive, record)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
