"""Soak: N requests full of large unique tokens against ``ner serve``; RSS of the server and its model
workers as it goes. A cache that grows with what it is sent, and never shrinks, shows here.

    python bench/soak.py --requests 30000 --clients 8

Starts ``ner serve`` on a free loopback port (settings from the NER_* environment as usual, e.g.
NER_WORKERS=2). Requests alternate between pre-tokenised lists (``--tokens`` tokens of ``--token-chars``
characters, each one new) and raw texts of new long words. Prints RSS every ``--every`` requests, the
statuses seen, and the peak. Exit status 1 if any answer was a 5xx or the server died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from served import start_server  # bench/served.py


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _memory(pid: int) -> tuple[float, float]:
    """RSS of the server process, and of all its children together (model workers), in MB."""
    workers = 0.0
    for child in _children(pid):
        with contextlib.suppress(OSError):  # gone meanwhile
            workers += _rss_mb(child)
    return _rss_mb(pid), workers


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_letters, k=n))


def _body(i: int, rng: random.Random, tokens: int, chars: int) -> dict[str, object]:
    if i % 2:
        return {"tokens": [[f"{i}{_word(rng, chars - len(str(i)))}" for _ in range(tokens)]]}
    # words short enough to be cached by the encoder (ner.encoding.encode.CACHE_TOKEN_CHARS), all new
    words = " ".join(f"Z{i}{_word(rng, 24)}" for _ in range(2 * tokens))
    return {"texts": [f"Alice Walker met {words} in Paris."]}


Sample = tuple[int, float, float]  # requests done, server MB, workers MB


async def _soak(url: str, pid: int, args: argparse.Namespace) -> tuple[Counter[int], list[Sample]]:
    statuses: Counter[int] = Counter()
    samples = [(0, *_memory(pid))]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.requests):
        queue.put_nowait(i)
    done = 0
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker(k: int) -> None:
            nonlocal done
            rng = random.Random(k)
            while not queue.empty():
                i = queue.get_nowait()
                try:
                    response = await client.post("/tag", json=_body(i, rng, args.tokens, args.token_chars))
                    statuses[response.status_code] += 1
                except httpx.HTTPError:
                    statuses[0] += 1  # no answer at all
                done += 1
                if done % args.every == 0:
                    samples.append((done, *_memory(pid)))
                    server, workers = samples[-1][1:]
                    print(f"{done:>8} requests  server {server:7.1f} MB  workers {workers:7.1f} MB")

        await asyncio.gather(*(worker(k) for k in range(args.clients)))
    return statuses, samples


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="checkpoint (default: the bundled model)")
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=8, help="unique tokens per request")
    parser.add_argument("--token-chars", type=int, default=1000, help="characters per pre-tokenised token")
    parser.add_argument("--every", type=int, default=2000, help="print RSS every this many requests")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    proc, url = start_server(args.model)
    try:
        started = time.perf_counter()
        statuses, samples = asyncio.run(_soak(url, proc.pid, args))
        seconds = time.perf_counter() - started
        alive = proc.poll() is None and httpx.get(f"{url}/health", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    peak = max(s[1] + s[2] for s in samples)
    print(f"{args.requests} requests in {seconds:.0f} s; statuses {dict(sorted(statuses.items()))}")
    print(f"RSS at start {samples[0][1] + samples[0][2]:.1f} MB, peak {peak:.1f} MB, "
          f"at the end {samples[-1][1] + samples[-1][2]:.1f} MB (server and workers together)")  # fmt: skip
    half = [s[1] + s[2] for s in samples[len(samples) // 2 :]]
    print(f"second half: {min(half):.1f} to {max(half):.1f} MB")
    failed = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    print(f"server alive at the end: {alive}; 5xx or no answer: {failed}")
    return 0 if alive and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
