"""One plain ASGI middleware (cheaper than BaseHTTPMiddleware) for what every request goes through:
its id, the number of requests in progress, the API key, the body limit and deadline, metrics and the
access log."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import Metrics

access_log = logging.getLogger("app.access")

OPEN_PATHS = frozenset({"/health", "/ready"})  # probes never need a key, nor wait their turn
PUBLIC_PATHS = OPEN_PATHS | {"/", "/ui"}  # no key needed: the page asks for one itself
PUBLIC_PREFIX = "/static/"  # assets of the pages (Swagger UI's files): nothing of the model
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
        self.response = JSONResponse(status_code=status, content=body, headers=headers)


class Gatekeeper:
    """Per request: an ``X-Request-ID`` (the client's if it is sane, else a new one) on the response
    and in the access log; 503 with ``Retry-After`` past ``max_in_flight`` requests in progress (the
    probes, /health and /ready, are neither counted nor refused); 401 without a valid key when
    ``api_keys`` are set; the body read in full before the app sees it, counted as it arrives,
    chunked or not (413 past ``max_body_bytes``, 408 if it takes longer than ``body_timeout_s``);
    request counts and latency by route, method and status, with one label for every unknown route
    and one for every unknown method. HEAD is answered as GET (the server drops the body)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        body_timeout_s: float,
        api_keys: list[str],
        log_requests: bool,
        max_in_flight: int = 1000,
        paths: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.app = app
        self._paths = paths  # the app's routes, read at the first request (all routes exist by then)
        self._known: frozenset[str] | None = None
        self.max_in_flight = max_in_flight
        self.in_flight = 0  # requests in progress, probes aside
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.keys = [k.encode() for k in api_keys]
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if scope["method"] == "HEAD":  # a GET whose body the server drops (uvicorn keeps its own scope)
            scope = {**scope, "method": "GET"}
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        counted = scope["path"] not in OPEN_PATHS
        if counted:
            self.in_flight += 1
        try:
            try:
                if counted and self.in_flight > self.max_in_flight:
                    raise _Refused(
                        503,
                        {"detail": f"too many requests in progress (limit_concurrency={self.max_in_flight})"},
                        {"Retry-After": "1"},
                    )
                self._check_key(scope["path"], headers)
                receive = await self._read_body(headers, receive, scope["method"] == "POST")
            except _Refused as refused:
                await refused.response(scope, receive, record)
            else:
                await self.app(scope, receive, record)
        finally:
            if counted:
                self.in_flight -= 1
            self._measure(scope, status, started, request_id)

    def _check_key(self, path: str, headers: dict[bytes, bytes]) -> None:
        if not self.keys or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX):
            return
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        # every key is compared, each in constant time: the time says nothing about which matched
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(token.strip(), key)
        if scheme.lower() != b"bearer" or not matched:
            raise _Refused(
                401,
                {"detail": "a valid API key is required: 'Authorization: Bearer KEY'"},
                {"WWW-Authenticate": "Bearer"},
            )

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive, json: bool) -> Receive:
        """The whole body read here, so that its size is known before anything parses it; the app
        gets it back as one message. With ``json`` (every POST route here takes JSON), a body must
        say it is JSON and be UTF-8, as JSON is (RFC 8259): 415 or 400 saying which, not the
        parser's "There was an error parsing the body"."""
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is None and not chunked:
            return receive
        limit = self.max_body_bytes
        detail = f"request body exceeds max_body_bytes={limit}"
        too_large = _Refused(413, {"detail": detail, "limit": "max_body_bytes", "max": limit})
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise too_large
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise _Refused(
                    408, {"detail": f"the request body did not arrive within {self.body_timeout_s:g} s"}
                ) from None
            if message["type"] == "http.disconnect":
                return _replay(b"", receive)  # the app sees an empty body; nobody reads the answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = b"".join(chunks)
                if json and body:
                    _check_json(headers.get(b"content-type", b""), body)
                return _replay(body, receive)

    def _measure(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        path = getattr(scope.get("route"), "path", None)
        if path is None:  # refused before routing (401, 413, ...), or a route of Starlette's own (/docs)
            if self._known is None:
                self._known = frozenset(self._paths())
            path = scope["path"] if scope["path"] in self._known else "unmatched"
            if path == "unmatched" and scope["path"].startswith(PUBLIC_PREFIX):
                path = PUBLIC_PREFIX + "*"  # one label for every asset
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        seconds = time.perf_counter() - started
        self.metrics.requests.labels(path, method, str(status)).inc()
        self.metrics.latency.labels(path).observe(seconds)
        if self.log_requests:
            client = scope.get("client")
            access_log.info(
                "%s %s %s %d %.1f ms id=%s",
                f"{client[0]}:{client[1]}" if client else "-",
                method,
                path,
                status,
                1000 * seconds,
                request_id,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": path,
                    "status": status,
                    "ms": round(1000 * seconds, 2),
                },
            )


def _check_json(content_type: bytes, body: bytes) -> None:
    """Refuse a body that is not declared JSON (415) or is not UTF-8 (400)."""
    media = content_type.split(b";")[0].strip().lower().decode("latin-1")
    if media != "application/json" and not media.endswith("+json"):
        given = repr(media) if media else "none"
        raise _Refused(
            415,
            {"detail": f"the body must be JSON with 'Content-Type: application/json' (got {given})"},
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(
            400, {"detail": f"the body is not UTF-8 (byte {exc.start + 1}); JSON must be"}
        ) from None


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the client to disconnect, as ASGI does

    return replay
