"""API keys, request ids, CORS and the access log (app/middleware.py, app/logs.py)."""

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from app.logs import JsonFormatter
from app.main import create_app
from app.settings import Settings
from ner.inference.tagger import Tagger

BODY = {"texts": ["Alice Walker visited Paris."]}


def test_api_keys_guard_everything_but_the_probes(tagger: Tagger) -> None:
    with TestClient(create_app(Settings(api_keys="k-one, k-two"), tagger)) as c:
        refused = c.post("/tag", json=BODY)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer KEY" in refused.json()["detail"]
        for header in ("Bearer k-three", "Basic k-one", "k-one", "Bearer ", "Bearer k-one-and-more"):
            assert c.post("/tag", json=BODY, headers={"Authorization": header}).status_code == 401, header
        assert c.post("/tag", json=BODY, headers={"Authorization": "Bearer k-two"}).status_code == 200
        assert c.post("/tag", json=BODY, headers={"Authorization": "bearer k-one"}).status_code == 200
        assert c.get("/metrics").status_code == 401
        assert c.get("/info").status_code == 401
        assert c.get("/health").status_code == 200
        assert c.get("/ready").status_code == 200
        c.get("/docs")
        c.get("/openapi.json")
        metrics = c.get("/metrics", headers={"Authorization": "Bearer k-one"}).text
    # refused or not, each request is counted under its own route, never "unmatched"
    assert 'method="POST",route="/tag",status="401"' in metrics
    assert 'method="GET",route="/docs",status="401"' in metrics
    assert 'method="GET",route="/openapi.json",status="401"' in metrics
    assert 'route="unmatched"' not in metrics


def test_request_ids_are_kept_or_made_and_logged(tagger: Tagger, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    with TestClient(create_app(Settings(access_log=True), tagger)) as c:
        kept = c.post("/tag", json=BODY, headers={"X-Request-ID": "job-7.a"})
        assert kept.headers["x-request-id"] == "job-7.a"
        made = c.post("/tag", json=BODY).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
        replaced = c.get("/health", headers={"X-Request-ID": "no spaces\tor tabs"}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", replaced)
        assert c.post("/tag", json={"texts": 3}).headers["x-request-id"]  # on errors too
    lines = [r for r in caplog.records if r.name == "app.access"]
    assert [(r.method, r.route, r.status) for r in lines][:2] == [("POST", "/tag", 200)] * 2  # type: ignore[attr-defined]
    assert lines[0].request_id == "job-7.a" and "id=job-7.a" in lines[0].getMessage()  # type: ignore[attr-defined]
    assert lines[1].request_id == made  # type: ignore[attr-defined]


def test_cors_preflight_is_answered_before_the_key_is_asked_for(tagger: Tagger) -> None:
    settings = Settings(cors_origins="https://app.example", api_keys="k")
    with TestClient(create_app(settings, tagger)) as c:
        preflight = c.options(
            "/tag",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        key = {"Authorization": "Bearer k"}
        answer = c.post("/tag", json=BODY, headers={"Origin": "https://app.example", **key})
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
        other = c.post("/tag", json=BODY, headers={"Origin": "https://evil.example", **key})
        assert "access-control-allow-origin" not in other.headers


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "app.access", "levelname": "INFO", "msg": "POST %s", "args": ("/tag",), "request_id": "r1"}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "POST /tag" and line["request_id"] == "r1" and line["logger"] == "app.access"
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_requests_past_limit_concurrency_are_503_but_probes_never(tagger: Tagger) -> None:
    """One request in progress (held by a slow model) fills limit_concurrency=1: the next /tag gets a
    JSON 503 with Retry-After and a request id; /health and /ready still answer 200."""
    import asyncio
    import time

    import httpx

    predict = tagger.predict

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)
        return predict(*args, **kwargs)  # type: ignore[arg-type]

    with TestClient(create_app(Settings(limit_concurrency=1), tagger)) as c:
        c.app.state.ready.tagger.predict = slow  # type: ignore[attr-defined]

        async def scenario() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=c.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                first = asyncio.ensure_future(client.post("/tag", json=BODY))
                await asyncio.sleep(0.2)
                others = [await client.post("/tag", json=BODY), await client.get("/health")]
                others.append(await client.get("/ready"))
                return [await first, *others]

        try:
            assert c.portal is not None
            first, refused, health, ready = c.portal.call(scenario)
        finally:
            del c.app.state.ready.tagger.predict  # type: ignore[attr-defined]
        assert first.status_code == 200
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "limit_concurrency=1" in refused.json()["detail"] and refused.headers["x-request-id"]
        assert (health.status_code, ready.status_code) == (200, 200)
        assert c.post("/tag", json=BODY).status_code == 200  # the count went back down
