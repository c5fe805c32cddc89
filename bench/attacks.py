"""The hostile requests of the reliability review, against a real ``ner serve`` on loopback: how fast
each is refused, what the server's memory does, and how fast ``/health`` answers meanwhile.

    python bench/attacks.py [--model PATH] [--rounds 8]

Starts ``ner serve`` (the bundled model unless ``--model``; NER_* settings from the environment) on a
free 127.0.0.1 port and runs, one after another, bounded in count and time:

- ``unique-words``: ``--rounds`` requests of 128 texts, each one new whitespace-free word of 20,000
  characters (``q123,a,a,...``): refused (413) without growing memory.
- ``crowd``: 48 clients at once, each sending 275 kB of news-like text: 200 or a prompt 503.
- ``one-letter``: 3 clients sending 2.56 MB of one-letter tokens: a prompt 413.
- ``dense``: 3 clients sending 980,000 characters that make a token each: under the character limit,
  so tokenised, and refused (413) where the tokens pass ``queue_tokens``.
- ``half-open``: 1,000 connections that send half a request head and stop; then probes and a request.
- ``big-header``: a request with a 10 MB header: refused at once.

For each: statuses, the slowest refusal, the median and largest ``/health`` latency while it ran, and
the RSS of the server and its workers before and after. Exit status 1 if a 5xx came, a refusal took
over 1 s, memory grew by more than 150 MB over all, or ``/health``'s median went over 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from served import start_server  # bench/served.py
from soak import _memory  # bench/soak.py: RSS of a server and its children

NEWS = "the minister said on Tuesday that talks with Germany and France would resume in Brussels"
WORDS = NEWS.split()


class Probe:
    """``/health`` asked every 50 ms on a connection of its own; latencies in seconds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            while True:
                started = time.perf_counter()
                response = await client.get("/health")
                self.latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                await asyncio.sleep(0.05)

    def __enter__(self) -> Probe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _post(client: httpx.AsyncClient, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    response = await client.post("/tag", content=body, headers={"content-type": "application/json"})
    return response.status_code, time.perf_counter() - started


async def unique_words(url: str, rounds: int) -> list[tuple[int, float]]:
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for r in range(rounds):
            texts = [f"q{r}x{i}," + ",".join("a" * 9_995) for i in range(128)]
            out.append(await _post(client, json.dumps({"texts": texts}).encode()))
    return out


def _news(chars: int, seed: int) -> str:
    words = [WORDS[(seed + 7 * i) % len(WORDS)] for i in range(chars // 5)]
    return " ".join(words)[:chars]


async def crowd(url: str, clients: int = 48) -> list[tuple[int, float]]:
    bodies = [
        json.dumps({"texts": [_news(19_000, c + i) for i in range(14)]}).encode() for c in range(clients)
    ]
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(_post(client, b) for b in bodies)))


async def one_letter(url: str, clients: int = 3) -> list[tuple[int, float]]:
    body = json.dumps({"texts": [" ".join("a" * 10_000) for _ in range(128)]}).encode()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return list(await asyncio.gather(*(_post(client, body) for _ in range(clients))))


async def dense(url: str, clients: int = 3) -> list[tuple[int, float]]:
    """Just under ``max_request_chars``: 49 texts of 20,000 characters, a token for every one."""
    body = json.dumps({"texts": [f"d{i}," + ",".join("a" * 9_990) for i in range(49)]}).encode()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return list(await asyncio.gather(*(_post(client, body) for _ in range(clients))))


async def half_open(url: str, connections: int = 1000) -> list[tuple[int, float]]:
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(connections):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /tag HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    out = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for path in ("/health", "/ready"):
                started = time.perf_counter()
                response = await client.get(path)
                out.append((response.status_code, time.perf_counter() - started))
            out.append(await _post(client, json.dumps({"texts": ["Alice visited Paris."]}).encode()))
    finally:
        for s in socks:
            s.close()
    return out


async def big_header(url: str) -> list[tuple[int, float]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        started = time.perf_counter()
        try:
            response = await client.get("/info", headers={"x-big": "a" * 10_000_000})
            status = response.status_code
        except httpx.TransportError:
            status = 0  # the server closed the connection
        return [(status, time.perf_counter() - started)]


async def main_async(args: argparse.Namespace) -> int:
    proc, url = start_server(args.model)
    failed = False
    rows: list[dict[str, Any]] = []
    try:
        start_mb = sum(_memory(proc.pid))
        attacks = [
            ("unique-words", lambda: unique_words(url, args.rounds)),
            ("crowd", lambda: crowd(url)),
            ("one-letter", lambda: one_letter(url)),
            ("dense", lambda: dense(url)),
            ("half-open", lambda: half_open(url)),
            ("big-header", lambda: big_header(url)),
        ]
        for name, attack in attacks:
            before = sum(_memory(proc.pid))
            with Probe(url) as probe:
                results = await attack()
                await asyncio.sleep(0.2)
            after = sum(_memory(proc.pid))
            statuses = Counter(status for status, _ in results)
            refusals = [s for status, s in results if status >= 400 or status == 0]
            health = probe.latencies or [0.0]
            row = {
                "attack": name,
                "statuses": dict(sorted(statuses.items())),
                "slowest refusal s": round(max(refusals, default=0.0), 3),
                "slowest 200 s": round(max((s for st, s in results if st == 200), default=0.0), 3),
                "health median ms": round(1000 * statistics.median(health), 1),
                "health max ms": round(1000 * max(health), 1),
                "RSS MB": f"{before:.0f} -> {after:.0f}",
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            failed |= any(status >= 500 and status != 503 for status in statuses)
            failed |= max(refusals, default=0.0) > 1.0 or statistics.median(health) > 0.2
        grown = sum(_memory(proc.pid)) - start_mb
        print(f"memory grown over all attacks: {grown:.0f} MB")
        failed |= grown > 150
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
