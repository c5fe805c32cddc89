"""Micro-batching: sentences from concurrent requests share model calls, run off the event loop by
one or more model workers (a thread, or processes of their own).

Each worker is a *lane*: an executor that runs one model call at a time. The batcher takes a free lane,
gathers what is queued (up to ``max_batch`` sentences, after an optional ``wait_ms``) and runs it there;
with N lanes, N batches run at once. A lane whose call fails (its process died), or misses the deadline
(its process hung), is replaced in the background, and the service says it is not ready until the new
one has loaded the model. Requests are admitted by what they cost: sentences, tokens and the estimated
wait, so that a client gets a 503 at once rather than a timeout later; :meth:`MicroBatcher.reserve`
admits one by an estimate before it is tokenised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from app.metrics import Metrics
from ner.inference.tagger import Prediction
from ner.runtime import kill_pool

log = logging.getLogger(__name__)

WARM_UP_SECONDS = 120.0  # a new worker process imports torch and loads the checkpoint first
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between tries to start a worker that fails


class Unavailable(Exception):
    """The model cannot answer this request now; the client should retry after ``retry_after`` s."""

    def __init__(self, message: str, status: int = 503, retry_after: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """Too much is queued; the client should retry later."""


class TooLarge(Exception):
    """A request that no queue state could ever admit (413: retrying cannot help)."""

    def __init__(self, what: str, limit: str, maximum: int) -> None:
        super().__init__(f"{what} exceeds {limit}={maximum}")
        self.what = what
        self.limit = limit
        self.maximum = maximum


Predict = Callable[[list[list[str]], "list[int] | None"], list[Prediction]]


class Reservation:
    """Room held in a :class:`MicroBatcher`'s queue for a request being prepared; released once
    (by :meth:`MicroBatcher.submit`, or by the caller when the request ends otherwise)."""

    def __init__(self, batcher: MicroBatcher, tokens: int) -> None:
        self._batcher: MicroBatcher | None = batcher
        self.tokens = tokens

    def release(self) -> None:
        if self._batcher is not None:
            self._batcher._add(0, -self.tokens)
            self._batcher = None


@dataclass
class _Job:
    sentences: list[list[str]]
    tokens: int
    future: asyncio.Future[list[Prediction]]
    groups: list[int] | None = None  # each sentence's document block in this request (None: each alone)


@dataclass
class _Lane:
    number: int
    executor: Executor
    calls: int = field(default=0)


def _blocks(jobs: list[_Job]) -> list[int] | None:
    """The document block of each sentence of ``jobs``, numbered across them so that no two requests
    share one; None when no job has blocks."""
    if all(job.groups is None for job in jobs):
        return None
    out: list[int] = []
    for job in jobs:
        first = len(out)  # past every block number used so far: a job has fewer blocks than sentences
        out.extend(first + g for g in (job.groups if job.groups is not None else range(len(job.sentences))))
    return out


class MicroBatcher:
    """See the module docstring. ``make_executor`` makes one lane's executor; ``predict`` runs in it."""

    def __init__(
        self,
        make_executor: Callable[[], Executor],
        predict: Predict,
        max_batch: int,
        wait_ms: float,
        queue_limit: int,
        metrics: Metrics,
        *,
        lanes: int = 1,
        queue_tokens: int = 10**9,
        max_wait_s: float = math.inf,
        timeout_s: float = math.inf,
    ) -> None:
        self._predict = predict
        self._max_batch = max_batch
        self._wait = wait_ms / 1000
        self._queue_limit = queue_limit
        self._queue_tokens = queue_tokens
        self._max_wait = max_wait_s
        self._timeout = timeout_s
        self._metrics = metrics
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._pending = 0  # sentences queued or running
        self._pending_tokens = 0
        self._seconds_per_token: float | None = None  # measured on model calls, per lane
        self._make_executor = make_executor
        self._lanes = [_Lane(i, make_executor()) for i in range(lanes)]
        self._free: asyncio.Queue[_Lane] = asyncio.Queue()
        self._restarting = 0
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._metrics.workers_ready.set(0)

    @property
    def lanes(self) -> int:
        return len(self._lanes)

    @property
    def ready(self) -> bool:
        """Every worker is up (none is being replaced)."""
        return self._task is not None and self._restarting == 0

    def workers_ready(self) -> int:
        return len(self._lanes) - self._restarting

    def start(self) -> None:
        for lane in self._lanes:
            self._free.put_nowait(lane)
        self._metrics.workers_ready.set(len(self._lanes))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ner-batcher")

    async def stop(self) -> None:
        for task in [self._task, *self._background]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(Unavailable("the service is shutting down"))
        for lane in self._lanes:
            lane.executor.shutdown(wait=True, cancel_futures=True)

    async def warm_up(self) -> None:
        """Run one tiny batch in every worker, so that worker processes have loaded the model before
        /ready says so. Raises whatever the first failing worker raised."""
        await asyncio.gather(*(self._warm(lane.executor) for lane in self._lanes))

    async def _warm(self, executor: Executor) -> None:
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(executor, self._predict, [["warm-up"]], None)
        await asyncio.wait_for(call, _finite(max(WARM_UP_SECONDS, self._timeout)))

    def estimated_wait(self, tokens: int = 0) -> float:
        """Seconds until ``tokens`` more would be done, from the measured speed (0 before any)."""
        if self._seconds_per_token is None:
            return 0.0
        live = max(1, self.workers_ready())
        return (self._pending_tokens + tokens) * self._seconds_per_token / live

    def reserve(self, tokens: int, sentences: int = 0) -> Reservation:
        """Admit a request by what it declares, before any work is spent on it: room for about
        ``tokens`` (an estimate) is held in the queue until :meth:`submit` replaces it with the real
        count, or the reservation is released. Requests that are still being tokenised thus count
        in the estimated wait of those after them.

        Raises:
            TooLarge: the request alone exceeds a queue limit.
            Unavailable: overloaded, or no worker is up.
        """
        self._admit(sentences, tokens, wait=True)
        self._add(0, tokens)
        return Reservation(self, tokens)

    def _admit(self, sentences: int, tokens: int, wait: bool) -> None:
        if sentences > self._queue_limit:
            raise TooLarge(f"{sentences} sentences", "queue_limit", self._queue_limit)
        if tokens > self._queue_tokens:
            raise TooLarge(f"{tokens} tokens", "queue_tokens", self._queue_tokens)
        if self.workers_ready() == 0:
            raise Unavailable("no model worker is running: one is being started", retry_after=2)
        if self._pending + sentences > self._queue_limit:
            raise Overloaded(f"{self._pending} sentences already queued (limit {self._queue_limit})")
        if self._pending_tokens + tokens > self._queue_tokens:
            raise Overloaded(f"{self._pending_tokens} tokens already queued (limit {self._queue_tokens})")
        # Nothing queued: a request waits for nobody, and a retry could only be slower (and a speed
        # learned from odd input must not refuse work on an idle server).
        if wait and self._pending_tokens > 0:
            seconds = self.estimated_wait(tokens)
            if seconds > self._max_wait:
                raise Overloaded(
                    f"the estimated wait is {seconds:.1f} s (limit max_wait_s={self._max_wait:g})",
                    retry_after=max(1, math.ceil(seconds - self._max_wait)),
                )

    async def submit(
        self,
        sentences: list[list[str]],
        groups: list[int] | None = None,
        reservation: Reservation | None = None,
    ) -> list[Prediction]:
        """Predictions for ``sentences``, in order; ``groups`` gives each one's document block, for a
        model with document memory (blocks of different requests never mix). With a
        ``reservation`` (see :meth:`reserve`), the wait was judged already: the room it held is
        given up for the real counts, which must still fit the queue.

        Raises:
            TooLarge: the request alone exceeds a queue limit.
            Unavailable: overloaded, no worker is up, the model call failed or missed its deadline.
        """
        if reservation is not None:
            reservation.release()
        if not sentences:
            return []
        tokens = sum(map(len, sentences))
        self._admit(len(sentences), tokens, wait=reservation is None)
        future: asyncio.Future[list[Prediction]] = asyncio.get_running_loop().create_future()
        self._add(len(sentences), tokens)
        self._queue.put_nowait(_Job(sentences, tokens, future, groups))
        # a client that goes away cancels this await, and with it the future: its job is dropped
        return await future

    def _add(self, sentences: int, tokens: int) -> None:
        self._pending += sentences
        self._pending_tokens += tokens
        self._metrics.queue_depth.set(self._pending)
        self._metrics.queue_tokens.set(self._pending_tokens)

    async def _next_job(self) -> _Job:
        while True:
            job = await self._queue.get()
            if not job.future.done():
                return job
            self._add(-len(job.sentences), -job.tokens)  # its client gave up: skip the work

    async def _gather(self) -> list[_Job]:
        jobs = [await self._next_job()]
        size = len(jobs[0].sentences)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while size < self._max_batch:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._next_job(), remaining)
                except TimeoutError:
                    break
            else:
                job = self._queue.get_nowait()
                if job.future.done():
                    self._add(-len(job.sentences), -job.tokens)
                    continue
            jobs.append(job)
            size += len(job.sentences)
        return jobs

    async def _run(self) -> None:
        while True:
            lane = await self._free.get()
            jobs = await self._gather()
            task = asyncio.get_running_loop().create_task(self._call(lane, jobs))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _call(self, lane: _Lane, jobs: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        sentences = [s for job in jobs for s in job.sentences]
        tokens = sum(job.tokens for job in jobs)
        self._metrics.batch_sentences.observe(len(sentences))
        started = loop.time()
        healthy = True
        try:
            call = loop.run_in_executor(lane.executor, self._predict, sentences, _blocks(jobs))
            predictions = await asyncio.wait_for(call, _finite(self._timeout))
        except TimeoutError:
            healthy = False
            log.error("model worker %d missed the deadline of %g s: replacing it", lane.number, self._timeout)
            self._fail(jobs, Unavailable(f"the model call took over model_timeout_s={self._timeout:g}", 504))
        except Exception:  # a failure fails these requests, never the service
            healthy = False
            log.exception("model worker %d failed: replacing it", lane.number)
            self._fail(jobs, Unavailable("the model worker failed; it is being replaced", retry_after=2))
        else:
            self._learn_speed(tokens, loop.time() - started)
            start = 0
            for job in jobs:
                end = start + len(job.sentences)
                if not job.future.done():  # the client may have gone away
                    job.future.set_result(predictions[start:end])
                start = end
        finally:
            self._add(-len(sentences), -tokens)
        if healthy:
            lane.calls += 1
            self._free.put_nowait(lane)
        else:
            await self._replace(lane)

    def _learn_speed(self, tokens: int, seconds: float) -> None:
        if tokens < 64:  # start-up costs dominate a tiny call: it says little about a queue's wait
            return
        rate = seconds / tokens
        old = self._seconds_per_token
        self._seconds_per_token = rate if old is None else 0.8 * old + 0.2 * rate

    @staticmethod
    def _fail(jobs: list[_Job], exc: Exception) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)

    async def _replace(self, lane: _Lane) -> None:
        """Stop the lane's worker (killed, if it is a process: it may hang) and start a new one, trying
        again with growing pauses while it fails to start; the lane is free again once it answers."""
        self._restarting += 1
        self._metrics.workers_ready.set(self.workers_ready())
        self._metrics.worker_restarts.inc()
        try:
            for attempt in range(10**9):
                _kill(lane.executor)
                lane.executor = self._make_executor()
                try:
                    await self._warm(lane.executor)
                except Exception as exc:
                    pause = RESTART_BACKOFF[min(attempt, len(RESTART_BACKOFF) - 1)]
                    log.error(
                        "model worker %d did not start (%s: %s); trying again in %g s",
                        lane.number,
                        type(exc).__name__,
                        exc,
                        pause,
                    )
                    await asyncio.sleep(pause)
                else:
                    log.info("model worker %d is back", lane.number)
                    break
        finally:
            self._restarting -= 1
            self._metrics.workers_ready.set(self.workers_ready())
        self._free.put_nowait(lane)


def _finite(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) else None  # None: no deadline


def _kill(executor: Executor) -> None:
    """Shut an executor down without waiting; a process pool's processes are killed first (a hung or
    stopped worker would never take the shutdown message). A thread cannot be killed: a hung thread
    is left to finish, and its answer is dropped."""
    if isinstance(executor, ProcessPoolExecutor):
        kill_pool(executor)
    else:
        executor.shutdown(wait=False, cancel_futures=True)
