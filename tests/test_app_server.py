"""A real uvicorn process on 127.0.0.1, hit by 32 concurrent clients: batched == single."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TEXTS = [
    "Alice Walker visited Paris.",
    "Acme Corp hired Bob Stone in Berlin. Carol likes French cheese.",
    "Frank flew from New York to Lisbon.",
    "Nothing to see here.",
    "Dave Miller of Initech spoke to Eve about the Olympic Games.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "NER_BATCH_WAIT_MS": "2", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ner.cli", "serve", "--model", str(model_path), "--port", str(port)]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([*cmd, "--device", "cpu"], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"server did not become ready: {log.read_text()}")
    yield url
    proc.terminate()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why it stopped
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Finished server process" in log.read_text()


def test_concurrent_clients_get_the_same_answers_as_single_requests(server: str) -> None:
    single = [httpx.post(f"{server}/tag", json={"texts": [t]}).json()["results"][0] for t in TEXTS]

    async def hammer() -> list[tuple[int, dict[str, object]]]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:

            async def one(i: int) -> tuple[int, dict[str, object]]:
                k = i % len(TEXTS)
                response = await client.post("/tag", json={"texts": [TEXTS[k]]})
                assert response.status_code == 200
                return k, response.json()["results"][0]

            return await asyncio.gather(*(one(i) for i in range(160)))

    results = asyncio.run(hammer())
    for k, result in results:
        assert result == single[k]
    metrics = httpx.get(f"{server}/metrics").text
    sizes = [line for line in metrics.splitlines() if line.startswith("ner_batch_sentences_count")]
    calls = float(sizes[0].split()[-1])
    assert calls < 160 + len(TEXTS)  # some requests shared a model call
