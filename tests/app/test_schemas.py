"""The OpenAPI document is a true contract: schemathesis generates requests from it, valid and
invalid, and checks every answer against it (no 5xx, documented statuses, content types and bodies,
valid data accepted, invalid data rejected)."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from app.main import create_app
from app.settings import Settings
from ner.inference.tagger import Tagger

schemathesis = pytest.importorskip("schemathesis")  # a dev extra
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection  # noqa: E402

EXAMPLES = {"POST /tag": 80}  # the others take no input: a few cases each


@pytest.fixture(scope="module")
def api_schema(tagger: Tagger) -> Any:
    limits = Settings(max_texts=4, max_chars=200, max_tokens=50, max_token_chars=40, max_body_bytes=200_000)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(limits, tagger))


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_lists_every_route(api_schema: Any) -> None:
    names = {f"{op.method.upper()} {op.path}" for op in _operations(api_schema)}
    assert names == {"POST /tag", "GET /health", "GET /ready", "GET /info", "GET /metrics"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_keeps_the_published_contract(api_schema: Any, mode: GenerationMode) -> None:
    # (schemathesis's own pytest plugin does not run under this pytest; its strategies and checks do)
    for operation in _operations(api_schema):
        name = f"{operation.method.upper()} {operation.path}"
        if mode is GenerationMode.NEGATIVE and name != "POST /tag":
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES.get(name, 3), deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case: Any) -> None:
            if mode is GenerationMode.POSITIVE:
                case.call_and_validate()
                return
            response = case.call()
            # schemathesis's rejection check does not count 413, which is how a value over this
            # deployment's limits (maxItems, maxLength) is refused; the other checks all run
            case.validate_response(response, excluded_checks=[negative_data_rejection])
            assert response.status_code in (400, 413, 422), (response.status_code, case.body)

        check()
