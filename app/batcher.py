"""Micro-batching: sentences from concurrent requests share one model call off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass

from app.metrics import Metrics
from ner.tagger import Prediction

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue holds too many sentences; the client should retry later."""


@dataclass
class _Job:
    sentences: list[list[str]]
    future: asyncio.Future[list[Prediction]]


class MicroBatcher:
    """Gathers sentences until ``max_batch`` or until the queue runs dry (after an optional
    ``wait_ms``), and runs ``predict`` on them in an executor made by ``make_executor`` (one worker
    thread or process). While the model runs, new requests queue up and form the next batch, so a lone
    request never waits on batching. A worker process that dies is replaced."""

    def __init__(
        self,
        make_executor: Callable[[], Executor],
        predict: Callable[[list[list[str]]], list[Prediction]],
        max_batch: int,
        wait_ms: float,
        queue_limit: int,
        metrics: Metrics,
    ) -> None:
        self._predict = predict
        self._max_batch = max_batch
        self._wait = wait_ms / 1000
        self._queue_limit = queue_limit
        self._metrics = metrics
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._pending = 0
        self._make_executor = make_executor
        self._executor = make_executor()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ner-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(Overloaded("the service is shutting down"))
        self._executor.shutdown(wait=True)

    async def warm_up(self) -> None:
        """Run one tiny batch, so that a worker process has loaded the model before /ready says so."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, [["warm-up"]])

    async def submit(self, sentences: list[list[str]]) -> list[Prediction]:
        """Predictions for ``sentences``, in order. Raises :class:`Overloaded` when the queue is full."""
        if not sentences:
            return []
        if self._pending + len(sentences) > self._queue_limit:
            raise Overloaded(f"{self._pending} sentences already queued (limit {self._queue_limit})")
        future: asyncio.Future[list[Prediction]] = asyncio.get_running_loop().create_future()
        self._pending += len(sentences)
        self._metrics.queue_depth.set(self._pending)
        self._queue.put_nowait(_Job(sentences, future))
        return await future

    async def _gather(self) -> list[_Job]:
        jobs = [await self._queue.get()]
        size = len(jobs[0].sentences)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while size < self._max_batch:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                job = self._queue.get_nowait()
            jobs.append(job)
            size += len(job.sentences)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            sentences = [s for job in jobs for s in job.sentences]
            self._metrics.batch_sentences.observe(len(sentences))
            try:
                predictions = await loop.run_in_executor(self._executor, self._predict, sentences)
            except Exception as exc:  # a model failure fails these requests, not the service
                log.exception("model call failed")
                if isinstance(exc, BrokenExecutor):
                    self._executor.shutdown(wait=False)
                    self._executor = self._make_executor()
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            else:
                start = 0
                for job in jobs:
                    end = start + len(job.sentences)
                    if not job.future.done():  # the client may have gone away
                        job.future.set_result(predictions[start:end])
                    start = end
            finally:
                self._pending -= len(sentences)
                self._metrics.queue_depth.set(self._pending)
