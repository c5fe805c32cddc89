"""HTTP load on 127.0.0.1: N concurrent clients for S seconds against ``POST /tag``.

    python bench/http_load.py --data $NER_DATA/valid.txt --clients 32 --seconds 20

Starts ``ner serve`` on a free loopback port (or uses --url, which must be on this machine), sends one
sentence per request (valid.txt sentences, tokens joined by spaces), and prints requests/s, tokens/s,
latency percentiles and errors. Bounded: it stops after --seconds and never retries.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from served import start_server  # bench/served.py

from ner.text.conll import read_conll


async def _load(url: str, texts: list[str], clients: int, seconds: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    tokens = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker(k: int) -> None:
            nonlocal errors, tokens
            i = k
            while time.perf_counter() < stop:
                text = texts[i % len(texts)]
                i += clients
                t = time.perf_counter()
                try:
                    response = await client.post("/tag", json={"texts": [text]})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t)
                if ok:
                    tokens += len(text.split())
                else:
                    errors += 1

        await asyncio.gather(*(worker(k) for k in range(clients)))
    return latencies, errors, tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="CoNLL file whose sentences are sent")
    parser.add_argument("--url", help="a running service on this machine (default: start one)")
    parser.add_argument("--model", type=Path, help="checkpoint for the started service")
    parser.add_argument("--device", default="cpu", help="--device of the started service (cpu, cuda, auto)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    texts = [" ".join(s.tokens) for s in read_conll(args.data).sentences]
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.model, args.device)
    elif urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address")
    try:
        asyncio.run(_load(url, texts, 1, 2))  # warm-up
        latencies, errors, tokens = asyncio.run(_load(url, texts, args.clients, args.seconds))
        with httpx.Client(base_url=url) as client:  # one client, kept alive, one request at a time
            one = []
            for _ in range(100):
                t = time.perf_counter()
                client.post("/tag", json={"texts": ["Peter Blackburn went to Brussels."]}).raise_for_status()
                one.append(time.perf_counter() - t)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100)
    print(f"{args.clients} clients, {args.seconds:.0f} s: {len(latencies)} requests, {errors} errors")
    print(f"{len(latencies) / args.seconds:,.0f} requests/s, {tokens / args.seconds:,.0f} tokens/s")
    print(f"latency p50 {1000 * q[49]:.1f} ms, p95 {1000 * q[94]:.1f} ms, p99 {1000 * q[98]:.1f} ms")
    print(f"one short sentence alone: p50 {1000 * statistics.median(one):.1f} ms")


if __name__ == "__main__":
    main()
