import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.batcher import MicroBatcher, Overloaded, TooLarge, Unavailable
from app.metrics import Metrics
from ner.inference.tagger import Prediction


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1)


def _echo(calls: list[int]):
    def predict(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
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
    def failing(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
        raise RuntimeError("boom")

    async def scenario() -> tuple[str, str]:
        batcher = MicroBatcher(_pool, failing, max_batch=8, wait_ms=0, queue_limit=3, metrics=Metrics())
        batcher.start()
        try:
            await batcher.submit([["a"]] * 4)
        except TooLarge as exc:
            too_large = str(exc)
        try:
            await batcher.submit([["a"]])
        except Unavailable as exc:
            failed = str(exc)
            assert exc.status == 503 and exc.retry_after > 0
        assert await batcher.submit([]) == []
        await batcher.stop()
        return too_large, failed

    too_large, failed = asyncio.run(scenario())
    assert too_large == "4 sentences exceeds queue_limit=3"
    assert "model worker failed" in failed


def _slow(seconds: float, calls: list[int]):
    def predict(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
        time.sleep(seconds)
        calls.append(len(sentences))
        return [Prediction(tags=["O"] * len(s), entities=[]) for s in sentences]

    return predict


def test_admission_by_estimated_wait_and_tokens() -> None:
    """After one measured call of 100 tokens in 0.1 s, 100 more queued mean a wait of about 0.1 s."""
    calls: list[int] = []

    async def scenario() -> None:
        batcher = MicroBatcher(
            _pool, _slow(0.1, calls), max_batch=8, wait_ms=0, queue_limit=100, metrics=Metrics(),
            queue_tokens=150, max_wait_s=0.15,
        )  # fmt: skip
        batcher.start()
        await batcher.submit([["w"] * 100])  # measures the speed: about 1 ms per token
        assert 0.0008 < batcher.estimated_wait(1) < 0.005
        running = asyncio.ensure_future(batcher.submit([["w"] * 100]))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match=r"100 tokens already queued \(limit 150\)"):
            await batcher.submit([["w"] * 60])  # 160 tokens would be queued: over queue_tokens
        with pytest.raises(Overloaded, match="estimated wait") as refused:
            await batcher.submit([["w"] * 49, ["w"]])  # fits the tokens, but about 0.15 s of wait
        assert refused.value.retry_after >= 1
        await running
        await batcher.submit([["w"] * 49, ["w"]])  # the queue ran dry: admitted
        await batcher.stop()

    asyncio.run(scenario())
    assert calls == [1, 1, 2]  # sentences per call: the refused requests were never run


def test_a_client_that_gives_up_costs_no_model_time() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        batcher = MicroBatcher(
            _pool, _slow(0.1, calls), max_batch=1, wait_ms=0, queue_limit=100, metrics=Metrics()
        )
        batcher.start()
        first = asyncio.ensure_future(batcher.submit([["a"]]))
        await asyncio.sleep(0.02)  # running
        gone = asyncio.ensure_future(batcher.submit([["b", "b"]]))
        await asyncio.sleep(0.01)
        gone.cancel()  # as when a client disconnects
        await first
        await batcher.submit([["c", "c", "c"]])
        await batcher.stop()

    asyncio.run(scenario())
    assert calls == [1, 1]  # 'b b' was dropped from the queue


def test_a_call_past_its_deadline_is_504_and_the_worker_is_replaced() -> None:
    calls: list[int] = []
    pools: list[ThreadPoolExecutor] = []
    hang = threading.Event()

    def predict(sentences: list[list[str]], groups: list[int] | None) -> list[Prediction]:
        if sentences[0] == ["hang"]:
            hang.wait(5)
        calls.append(len(sentences))
        return [Prediction(tags=["O"] * len(s), entities=[]) for s in sentences]

    def make() -> ThreadPoolExecutor:
        pools.append(ThreadPoolExecutor(max_workers=1))
        return pools[-1]

    async def scenario() -> None:
        batcher = MicroBatcher(
            make, predict, max_batch=8, wait_ms=0, queue_limit=100, metrics=Metrics(), timeout_s=0.2
        )
        batcher.start()
        with pytest.raises(Unavailable, match=r"model_timeout_s=0\.2") as late:
            await batcher.submit([["hang"]])
        assert late.value.status == 504
        while not batcher.ready:
            await asyncio.sleep(0.01)
        result = await batcher.submit([["fine"]])  # a new worker answers while the old one hangs
        assert result[0].tags == ["O"]
        hang.set()
        await batcher.stop()

    asyncio.run(scenario())
    assert len(pools) == 2


def test_an_idle_server_admits_whatever_speed_it_learned() -> None:
    """A slow call teaches a high cost per token; once nothing runs, a request that alone would
    take longer than max_wait_s is still admitted (nothing to wait for: a retry could only be slower)."""
    calls: list[int] = []

    async def scenario() -> None:
        batcher = MicroBatcher(
            _pool, _slow(0.2, calls), max_batch=8, wait_ms=0, queue_limit=100, metrics=Metrics(),
            max_wait_s=0.05,
        )  # fmt: skip
        batcher.start()
        await batcher.submit([["w"] * 100])  # 2 ms a token: 100 tokens "wait" 0.2 s > 0.05
        assert batcher.estimated_wait(100) > 0.05
        await batcher.submit([["w"] * 100])  # idle: admitted
        running = asyncio.ensure_future(batcher.submit([["w"] * 100]))
        await asyncio.sleep(0.02)
        with pytest.raises(Overloaded, match="estimated wait"):
            await batcher.submit([["w"] * 100])  # behind a running call: refused
        await running
        await batcher.stop()

    asyncio.run(scenario())
    assert calls == [1, 1, 1]


def test_a_reservation_holds_room_until_submitted_or_released() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        batcher = MicroBatcher(
            _pool, _echo(calls), max_batch=8, wait_ms=0, queue_limit=100, metrics=Metrics(), queue_tokens=100
        )
        batcher.start()
        with pytest.raises(TooLarge, match="101 tokens exceeds queue_tokens=100"):
            batcher.reserve(101)
        held = batcher.reserve(80)
        with pytest.raises(Overloaded, match="80 tokens already queued"):
            batcher.reserve(30)  # the first request, still being tokenised, counts
        held.release()
        held.release()  # twice is once
        second = batcher.reserve(30)
        out = await batcher.submit([["w"] * 20], reservation=second)  # the real count replaces it
        assert len(out) == 1
        assert batcher.reserve(100) is not None  # everything was given back
        await batcher.stop()

    asyncio.run(scenario())
