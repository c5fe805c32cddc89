"""``POST /tag``: texts or token lists in, entities with character offsets and scores out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.batcher import TooLarge, Unavailable
from app.deps import ReadyDep
from app.schemas import ErrorOut, TagRequest, TagResponse
from app.settings import Settings
from ner.annotate import entities
from ner.tagger import Prediction
from ner.tokenize import Token, join_tokens

router = APIRouter(tags=["tagging"])

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


def _check_limits(body: TagRequest, settings: Settings) -> JSONResponse | None:
    items: list[object] = list(body.texts or body.tokens or [])
    if len(items) > settings.max_texts:
        return _too_large(f"{len(items)} items", "max_texts", settings.max_texts)
    for i, text in enumerate(body.texts or []):
        if len(text) > settings.max_chars:
            return _too_large(f"texts[{i}] with {len(text)} characters", "max_chars", settings.max_chars)
    for i, tokens in enumerate(body.tokens or []):
        if len(tokens) > settings.max_tokens:
            return _too_large(f"tokens[{i}] with {len(tokens)} tokens", "max_tokens", settings.max_tokens)
        longest = settings.max_token_chars
        for j, token in enumerate(tokens):
            if len(token) > longest:
                what = f"tokens[{i}][{j}] with {len(token)} characters"
                return _too_large(what, "max_token_chars", longest)
    return None


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _unless_the_client_leaves(request: Request, work: Awaitable[list[Prediction]]) -> list[Prediction]:
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
async def tag(body: TagRequest, ready: ReadyDep, request: Request) -> JSONResponse:
    """Find entities. Offsets are Python string indices into each text sent (for ``tokens``, into
    the tokens joined by single spaces), so ``text[start:end] == entity.text``."""
    settings = ready.settings
    refused = _check_limits(body, settings)
    if refused is not None:
        return refused
    docs: list[tuple[str, list[list[Token]]]] = []
    if body.texts is not None:
        docs = [(text, ready.tokenizer.sentences(text)) for text in body.texts]
    else:
        for tokens in body.tokens or []:
            text, toks = join_tokens(tokens)
            step = settings.sentence_tokens
            docs.append((text, [toks[i : i + step] for i in range(0, len(toks), step)]))
    flat = [[t.text for t in sentence] for _, sentences in docs for sentence in sentences]
    if body.document and body.tokens is not None:
        documents = [flat]  # the token lists are the sentences of one document
    else:
        documents = [[[t.text for t in s] for s in sentences] for _, sentences in docs]
    plan = ready.tagger.reading_plan(documents)  # sentences, or a document's windows or blocks
    try:
        read = await _unless_the_client_leaves(request, ready.batcher.submit(plan.units, plan.groups))
    except ClientGone:
        return JSONResponse(status_code=499, content={"detail": "the client closed the connection"})
    except TooLarge as exc:  # no queue could ever take it: retrying cannot help
        return _too_large(f"this request's {exc.what}", exc.limit, exc.maximum)
    except Unavailable as exc:
        return JSONResponse(
            status_code=exc.status,
            content={"detail": str(exc)},
            headers={"Retry-After": str(exc.retry_after)},
        )
    predictions = [p for document in plan.regroup(read) for p in document]
    ready.metrics.tokens.inc(sum(map(len, flat)))
    # Plain dictionaries in TagResponse's shape: a pydantic model here would be validated again on
    # the way out, which cost more than the rest of the request handling (tests check the shape).
    results: list[dict[str, object]] = []
    position = 0
    for text, sentences in docs:
        mine = predictions[position : position + len(sentences)]
        position += len(sentences)
        tokens_out = None
        if body.return_tokens:
            tokens_out = [
                {"text": t.text, "start": t.start, "end": t.end, "tag": tag}
                for sentence, prediction in zip(sentences, mine)
                for t, tag in zip(sentence, prediction.tags)
            ]
        results.append({"entities": [vars(e) for e in entities(text, sentences, mine)], "tokens": tokens_out})
    return JSONResponse({"model": ready.tagger.name, "results": results})
