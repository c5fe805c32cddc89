"""The app factory and ``ner serve``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from app.batcher import MicroBatcher
from app.deps import Ready
from app.logs import configure as configure_logs
from app.metrics import Metrics
from app.middleware import Gatekeeper
from app.routes import meta, pages, tag
from app.schemas import TagRequest, openapi_limits
from app.settings import Settings
from app.worker import process_worker, thread_worker
from ner import __version__
from ner.inference.tagger import Tagger
from ner.model.bundled import default_model_path
from ner.runtime import InputError, freeze_loaded_objects, set_compute_threads
from ner.text.tokenize import Tokenizer

log = logging.getLogger("app")


def load_tagger(settings: Settings) -> Tagger:
    """The checkpoint named by the settings, or the bundled one. Raises :class:`InputError`."""
    backend = settings.model_backend()
    tagger = Tagger.load(settings.model or default_model_path(), settings.device, backend)
    set_compute_threads(settings.model_threads())
    return tagger


def create_app(settings: Settings | None = None, tagger: Tagger | None = None) -> FastAPI:
    """Build the service. ``tagger`` may be given already loaded; else the lifespan loads it."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = tagger or load_tagger(settings)
        tokenizer = Tokenizer(settings.sentence_tokens, loaded.tokenizer_style)  # the model's own
        lanes = settings.model_workers()
        if settings.uses_processes():
            path = Path(settings.model) if settings.model else default_model_path()
            make, predict = process_worker(
                path, settings.device, settings.model_threads(), settings.batch_size, settings.model_backend()
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
            lanes=lanes,
            queue_tokens=settings.queue_tokens,
            max_wait_s=settings.max_wait_s,
            timeout_s=settings.model_timeout_s,
        )
        await batcher.warm_up()
        freeze_loaded_objects()
        batcher.start()
        prep = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner-prep")
        app.state.ready = Ready(loaded, batcher, tokenizer, settings, metrics, prep)
        kind = "process" if settings.uses_processes() else "thread"
        log.info("model %s ready on %s (%d %s worker(s))", loaded.name, loaded.device, lanes, kind)
        try:
            yield
        finally:
            app.state.ready = None
            await batcher.stop()
            prep.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(
        title="NER service",
        version=__version__,
        description="Named entities with character offsets and CRF confidences.",
        lifespan=lifespan,
        docs_url=None,  # served by app.routes.pages with local assets, not a CDN's
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.state.ready = None
    app.include_router(tag.router)
    app.include_router(meta.router)
    app.include_router(pages.router)
    app.mount(pages.SWAGGER, StaticFiles(directory=pages.swagger_files()), name="swagger")
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    _publish_limits(app, settings)
    app.add_middleware(
        Gatekeeper,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.header_timeout_s,
        api_keys=settings.keys(),
        log_requests=settings.access_log,
        max_in_flight=settings.limit_concurrency,
        paths=lambda: _route_paths(app.routes),
    )
    if settings.origins():  # outermost: preflight requests are answered before the key is asked for
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.origins(),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


def _route_paths(routes: Iterable[Any]) -> list[str]:
    """The paths of ``routes``, those of included routers too (FastAPI keeps them nested)."""
    paths = []
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            paths.append(route.path)
        inner = getattr(getattr(route, "original_router", route), "routes", None)
        if inner is not None and inner is not routes:
            paths.extend(_route_paths(inner))
    return paths


def _publish_limits(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document with this deployment's request limits in TagRequest's schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            openapi_limits(
                schema, settings.max_texts, settings.max_chars, settings.max_tokens, settings.max_token_chars
            )
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def _printable(value: object) -> object:
    """``value`` as JSON can always carry it: a lone surrogate escaped, a long string cut."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")[:300]
    return value if isinstance(value, int) else repr(value)[:300]


_FIELDS = frozenset({"body", *TagRequest.model_fields})


def _shown(part: object) -> object:
    """A location step as the answer may show it: a field of the schema or an index, never a key
    the client made up (an unknown key is named by its place alone)."""
    return part if isinstance(part, int) or part in _FIELDS else "<unknown key>"


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON, 422 for one that does not fit the schema. Unlike FastAPI's
    own handler, the input is never echoed: it may hold what JSON cannot render (NaN, a lone
    surrogate), and a client has it already."""
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            where = error["loc"][-1] if error.get("loc") else "?"
            detail = f"the body is not valid JSON: {_printable(reason)} (at character {where})"
            return JSONResponse(status_code=400, content={"detail": detail})
    shown = [
        {
            "loc": [_shown(part) for part in error.get("loc", ())],
            "msg": _printable(error.get("msg", "")),
            "type": _printable(error.get("type", "")),
        }
        for error in errors[:20]
    ]
    return JSONResponse(status_code=422, content={"detail": shown})


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


class _HeadDeadline:
    """Mixed into a uvicorn HTTP protocol: closes a connection that has not sent a whole request head
    within ``head_timeout_s`` of opening, or of its last response."""

    head_timeout_s = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    _cycle_waited_after: object = None

    def _arm(self) -> None:
        self._disarm()
        self._cycle_waited_after = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is self._cycle_waited_after and not self.transport.is_closing():
            self.transport.close()  # no request began: nothing to answer

    # The protocol's own events, before or after the base's (next in the method order).
    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm()


class HeadTooLarge(Exception):
    """A request head (its line and headers) over the limit; the parser turns it into an error."""


def _protocol(header_timeout_s: float, max_head_bytes: int = 65_536) -> type:
    """uvicorn's HTTP protocol (httptools when installed, as uvicorn picks, else h11), with a deadline
    for each request's head (:class:`_HeadDeadline`) and a limit on its size. uvicorn closes idle
    keep-alive connections, but not one that never sends a byte or sends its headers a byte at a
    time, and enough of those use up the file descriptors. h11 bounds a head by itself (uvicorn's
    ``h11_max_incomplete_event_size``, which :func:`serve` sets); httptools would take any size."""
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:  # httptools is not installed
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class H11(_HeadDeadline, H11Protocol):  # type: ignore[misc]
            head_timeout_s = header_timeout_s

            def handle_events(self) -> None:
                super().handle_events()
                if self._head_timer is not None and self.cycle is not self._cycle_waited_after:
                    self._disarm()  # a new cycle: a request head arrived

        return H11

    class HttpTools(_HeadDeadline, HttpToolsProtocol):  # type: ignore[misc]
        head_timeout_s = header_timeout_s
        _head_bytes = 0
        _head_refused = False

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > max_head_bytes:
                self._head_refused = True
                raise HeadTooLarge  # the parser stops; uvicorn answers it with send_400_response

        def send_400_response(self, msg: str) -> None:
            if not self._head_refused:
                super().send_400_response(msg)
                return
            body = f"the request head exceeds {max_head_bytes} bytes".encode()
            self.transport.write(
                STATUS_LINE[431] + b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
            )
            self.transport.close()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    return HttpTools


def _raise_file_limit() -> None:
    """Open files up to the hard limit: each connection holds one, and a soft limit of 1,024 (the
    usual default) would let 1,000 idle connections starve the service until the head deadline."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65_536, hard)
            )
    except (ImportError, ValueError, OSError):  # not Unix, or not allowed: keep what there is
        pass


def serve(overrides: dict[str, Any]) -> int:
    """Load the model (one clear line and exit code 2 if it cannot be), then run uvicorn."""
    import uvicorn

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        log.error("cannot start: bad settings (NER_* variables or options): %s", problems)
        return 2
    configure_logs(settings.log_format)
    busy = _port_taken(settings.host, settings.port)
    if busy is not None:  # before the model loads, not after
        log.error("cannot start: %s:%d is not free (%s)", settings.host, settings.port, busy)
        return 2
    try:
        tagger = load_tagger(settings)
    except InputError as exc:
        log.error("cannot start: %s", exc)
        return 2
    _raise_file_limit()
    uvicorn.run(
        create_app(settings, tagger),
        host=settings.host,
        port=settings.port,
        http=_protocol(settings.header_timeout_s, settings.max_head_bytes),
        h11_max_incomplete_event_size=settings.max_head_bytes,
        log_config=None,  # configure_logs did it
        access_log=False,  # the app writes its own, with the request id
        # No limit_concurrency: uvicorn counts open connections in it, so idle ones (a head that never
        # ends) would make every route answer 503, /health too. The Gatekeeper counts requests in
        # progress instead, probes aside, and the head deadline closes idle connections.
        timeout_keep_alive=settings.timeout_keep_alive,
        # SIGTERM: uvicorn stops listening, lets the requests in progress finish (the batcher keeps
        # running until the lifespan ends, after them), and cuts them off after drain_s
        timeout_graceful_shutdown=settings.drain_s,
    )
    return 0
