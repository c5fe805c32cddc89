"""``POST /tag``: texts or token lists in, entities with character offsets and scores out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.batcher import Reservation, TooLarge, Unavailable
from app.deps import Ready, ReadyDep
from app.schemas import ErrorOut, TagRequest, TagResponse
from app.settings import Settings
from ner.inference.pipeline import Prepared, TooManyTokens, prepare_texts, prepare_token_lists, render
from ner.runtime import release_free_memory
from ner.text.results import Prediction

router = APIRouter(tags=["tagging"])
TRIM_AFTER_TOKENS = 20_000
INLINE_CHARS = 600  # a request this small is tokenised and rendered on the event loop (< 3 ms, any text)
CHARS_PER_TOKEN = 5  # news runs at 5.5-6 characters a token, spaces included: a slight overestimate

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the body is not JSON"},
    401: {"model": ErrorOut, "description": "an API key is required (only when the service has keys)"},
    408: {"model": ErrorOut, "description": "the body did not arrive in time"},
    413: {"model": ErrorOut, "description": "a request limit was exceeded: the limit and its maximum"},
    503: {
        "model": ErrorOut,
        "description": "overloaded, or the model worker is restarting: retry after Retry-After seconds",
    },
    504: {"model": ErrorOut, "description": "the model call missed its deadline (model_timeout_s)"},
}


def _too_large(what: str, limit: str, maximum: int) -> JSONResponse:
    return JSONResponse(
        status_code=413,
        content={"detail": f"{what} exceeds {limit}={maximum}", "limit": limit, "max": maximum},
    )


def _check_limits(body: TagRequest, settings: Settings, total: int) -> JSONResponse | None:
    items: list[object] = list(body.texts or body.tokens or [])
    if len(items) > settings.max_texts:
        return _too_large(f"{len(items)} items", "max_texts", settings.max_texts)
    for i, text in enumerate(body.texts or []):
        if len(text) > settings.max_chars:
            return _too_large(f"texts[{i}] with {len(text)} characters", "max_chars", settings.max_chars)
    if total > settings.max_request_chars:
        what = f"{total} characters in all"
        return _too_large(what, "max_request_chars", settings.max_request_chars)
    for i, tokens in enumerate(body.tokens or []):
        if len(tokens) > settings.max_tokens:
            return _too_large(f"tokens[{i}] with {len(tokens)} tokens", "max_tokens", settings.max_tokens)
        longest = settings.max_token_chars
        lengths = list(map(len, tokens))
        if lengths and max(lengths) > longest:
            j = next(j for j, n in enumerate(lengths) if n > longest)
            return _too_large(f"tokens[{i}][{j}] with {lengths[j]} characters", "max_token_chars", longest)
    return None


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _unless_the_client_leaves(request: Request, work: Awaitable[bytes]) -> bytes:
    """``work``'s result, or :class:`ClientGone` (and ``work`` cancelled, so that a queued request
    costs no model time) if the client disconnects first. The body has been read by then, so the
    next ASGI message can only be the disconnect."""
    task = asyncio.ensure_future(work)
    if not task.done():
        gone = asyncio.ensure_future(request.receive())
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            raise ClientGone
        gone.cancel()
    return task.result()


@router.post("/tag", response_model=TagResponse, responses=ERRORS)
async def tag(body: TagRequest, ready: ReadyDep, request: Request) -> Response:
    """Find entities. Offsets are Python string indices into each text sent (for ``tokens``, into
    the tokens joined by single spaces), so ``text[start:end] == entity.text``.

    The request is admitted by what it declares before any work is spent on it; tokenising, and
    building the entities afterwards, run in the preparing thread, never on the event loop."""
    settings = ready.settings
    characters = _characters(body)
    refused = _check_limits(body, settings, characters)
    if refused is not None:
        return refused
    try:
        reservation = ready.batcher.reserve(_declared_tokens(body))
    except TooLarge as exc:
        return _too_large(
            f"this request's {exc.what} (estimated from its characters)", exc.limit, exc.maximum
        )
    except Unavailable as exc:
        return _unavailable(exc)
    try:
        content = await _unless_the_client_leaves(request, _run(body, ready, reservation, characters))
    except ClientGone:
        return JSONResponse(status_code=499, content={"detail": "the client closed the connection"})
    except TooLarge as exc:  # no queue could ever take it: retrying cannot help
        return _too_large(f"this request's {exc.what}", exc.limit, exc.maximum)
    except TooManyTokens as exc:
        return _too_large(f"this request's {exc.tokens}+ tokens", "queue_tokens", exc.limit)
    except Unavailable as exc:
        return _unavailable(exc)
    finally:
        reservation.release()
    return Response(content, media_type="application/json")


def _characters(body: TagRequest) -> int:
    return sum(map(len, body.texts or [])) + sum(map(len, (t for ts in body.tokens or [] for t in ts)))


def _declared_tokens(body: TagRequest) -> int:
    """The tokens a request will make, judged before tokenising it: exact for token lists, from the
    characters for texts."""
    if body.tokens is not None:
        return sum(map(len, body.tokens))
    return sum(len(text) // CHARS_PER_TOKEN + 1 for text in body.texts or [])


async def _run(body: TagRequest, ready: Ready, reservation: Reservation, characters: int) -> bytes:
    loop = asyncio.get_running_loop()
    if body.texts is not None:
        limit = ready.settings.queue_tokens  # more could never be queued: stop tokenising there
        prepare = partial(prepare_texts, ready.tagger, ready.tokenizer, body.texts, limit)
    else:
        step = ready.settings.sentence_tokens
        prepare = partial(prepare_token_lists, ready.tagger, body.tokens or [], step, body.document)
    # A small request costs less to tokenise and render than a hand-off to a thread and back (about
    # 0.3 ms each way, under load): its bounded cost stays on the event loop.
    small = characters <= INLINE_CHARS
    prepared = prepare() if small else await loop.run_in_executor(ready.prep, prepare)
    plan = prepared.plan
    read = await ready.batcher.submit(plan.units, plan.groups, reservation)
    ready.metrics.tokens.inc(prepared.tokens)
    name = ready.tagger.name
    if small:
        return _render(prepared, read, name, body.return_tokens)
    return await loop.run_in_executor(ready.prep, _render, prepared, read, name, body.return_tokens)


def _render(prepared: Prepared, read: list[Prediction], model: str, return_tokens: bool) -> bytes:
    try:
        return render(prepared, read, model, return_tokens)
    finally:
        if prepared.tokens >= TRIM_AFTER_TOKENS:
            release_free_memory()  # a large request's freed memory goes back to the system


def _unavailable(exc: Unavailable) -> JSONResponse:
    return JSONResponse(
        status_code=exc.status, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after)}
    )
