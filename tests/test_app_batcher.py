import asyncio
from concurrent.futures import ThreadPoolExecutor

from app.batcher import MicroBatcher, Overloaded
from app.metrics import Metrics
from ner.tagger import Prediction


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1)


def _echo(calls: list[int]):
    def predict(sentences: list[list[str]]) -> list[Prediction]:
        calls.append(len(sentences))
        return [Prediction(tags=["O"] * len(s), entities=[]) for s in sentences]

    return predict


def test_concurrent_requests_share_batches_and_get_their_own_results() -> None:
    calls: list[int] = []

    async def scenario() -> list[list[Prediction]]:
        batcher = MicroBatcher(
            _pool, _echo(calls), max_batch=64, wait_ms=20, queue_limit=1000, metrics=Metrics()
        )
        batcher.start()
        jobs = [batcher.submit([["w"] * (i + 1), ["x"]]) for i in range(10)]
        out = await asyncio.gather(*jobs)
        await batcher.stop()
        return out

    results = asyncio.run(scenario())
    assert [len(r) for r in results] == [2] * 10
    assert [len(r[0].tags) for r in results] == list(range(1, 11))  # each request its own, in order
    assert sum(calls) == 20 and len(calls) < 10  # gathered into fewer model calls


def test_queue_limit_and_model_errors() -> None:
    def failing(sentences: list[list[str]]) -> list[Prediction]:
        raise RuntimeError("boom")

    async def scenario() -> tuple[str, str]:
        batcher = MicroBatcher(_pool, failing, max_batch=8, wait_ms=0, queue_limit=3, metrics=Metrics())
        batcher.start()
        try:
            await batcher.submit([["a"]] * 4)
        except Overloaded as exc:
            overloaded = str(exc)
        try:
            await batcher.submit([["a"]])
        except RuntimeError as exc:
            failed = str(exc)
        assert await batcher.submit([]) == []
        await batcher.stop()
        return overloaded, failed

    overloaded, failed = asyncio.run(scenario())
    assert "limit 3" in overloaded
    assert failed == "boom"
