"""A real uvicorn process on 127.0.0.1 with two model worker processes: hit by concurrent clients
(batched == single), by silent and slow connections, and by kills of its workers."""

import asyncio
import os
import shutil
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
def served_model(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's own copy of the checkpoint (a test damages it)."""
    copy = tmp_path_factory.mktemp("served") / "model.pt"
    shutil.copy(model_path, copy)
    return copy


def _start(model: Path, settings: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``ner serve`` on a free loopback port with ``settings`` (NER_*), once ``/ready`` answers 200."""
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", **settings}
    cmd = [sys.executable, "-m", "ner.cli", "serve", "--model", str(model), "--port", str(port)]
    with log.open("w") as sink:
        proc = subprocess.Popen([*cmd, "--device", "cpu"], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"server did not become ready: {log.read_text()}")


@pytest.fixture(scope="module")
def server(served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {
        "NER_BATCH_WAIT_MS": "2", "NER_WORKERS": "2", "NER_HEADER_TIMEOUT_S": "1", "NER_MODEL_TIMEOUT_S": "3",
    }  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc, url = _start(served_model, settings, log)
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


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_silent_and_slow_connections_are_closed_after_the_header_timeout(server: str) -> None:
    silent = [socket.create_connection(("127.0.0.1", _port(server))) for _ in range(20)]
    slow = socket.create_connection(("127.0.0.1", _port(server)))
    slow.sendall(b"POST /tag HTTP/1.1\r\nHost: x\r\n")  # and never the rest of the head
    time.sleep(2.5)  # NER_HEADER_TIMEOUT_S=1
    for s in [*silent, slow]:
        s.settimeout(5)
        assert s.recv(1) == b""  # closed by the server
        s.close()
    assert httpx.get(f"{server}/health").status_code == 200


def _workers(server_pid: int) -> list[int]:
    """The model worker processes (multiprocessing's spawned children) of the server."""
    found = []
    for pid in map(int, Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()):
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
            found.append(pid)
    return found


def _server_pid(server: str) -> int:
    port = _port(server)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and str(port).encode() in cmdline:
                return int(proc.name)
    raise AssertionError("no server process")


def _until_ready(server: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"{server}/ready").status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("the server did not become ready again")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(("how", "status"), [(signal.SIGKILL, 503), (signal.SIGSTOP, 504)])
def test_a_killed_or_hung_worker_gives_503_or_504_and_is_replaced(
    server: str, how: signal.Signals, status: int
) -> None:
    pid = _server_pid(server)
    before = _workers(pid)
    assert len(before) == 2
    os.kill(before[0], how)
    body = {"texts": [TEXTS[0]]}
    statuses = []
    for _ in range(6):  # the lanes take turns: one of the first requests lands on the victim
        response = httpx.post(f"{server}/tag", json=body, timeout=30)
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert response.status_code == status, response.text
            assert response.headers["retry-after"]
            assert response.headers["content-type"] == "application/json"
            break
    assert status in statuses, statuses
    assert httpx.get(f"{server}/ready").status_code == 503  # while the new worker loads
    _until_ready(server)
    after = _workers(pid)
    assert len(after) == 2 and before[0] not in after
    assert httpx.post(f"{server}/tag", json=body).status_code == 200


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_a_worker_that_cannot_load_keeps_the_server_up_and_not_ready(server: str, served_model: Path) -> None:
    pid = _server_pid(server)
    good = served_model.read_bytes()
    served_model.write_bytes(b"damaged after start")
    try:
        os.kill(_workers(pid)[0], signal.SIGKILL)
        statuses = {httpx.post(f"{server}/tag", json={"texts": [TEXTS[1]]}).status_code for _ in range(6)}
        assert statuses <= {200, 503}, statuses  # the other worker answers; never a 500
        time.sleep(3)  # a failed start or two
        assert httpx.get(f"{server}/ready").status_code == 503
        assert httpx.get(f"{server}/health").status_code == 200
    finally:
        served_model.write_bytes(good)
    _until_ready(server)


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_the_head_deadline_holds_with_either_parser(parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn in a thread with a stand-in app and app.main's protocol for that parser."""
    import threading

    import uvicorn

    from app.main import _protocol

    if parser == "h11":
        monkeypatch.setitem(sys.modules, "uvicorn.protocols.http.httptools_impl", None)  # as if absent
    else:
        pytest.importorskip("httptools")
    protocol = _protocol(0.5, max_head_bytes=65_536)
    assert protocol.__name__ == {"httptools": "HttpTools", "h11": "H11"}[parser]

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=protocol, lifespan="off", log_config=None,
        h11_max_incomplete_event_size=65_536,  # as serve() sets it
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/").text == "ok"
            time.sleep(0.8)  # idle past the deadline: a kept-alive connection is closed, and reopened
            assert client.get("/").text == "ok"
            assert client.get("/", headers={"x-pad": "a" * 60_000}).text == "ok"  # under the limit
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:  # a head over it: refused
            try:
                status = client.get("/", headers={"x-pad": "a" * 200_000}).status_code
            except httpx.TransportError:  # h11's 400 and close can reset a client still sending
                status = 0
            assert status in {"httptools": {431}, "h11": {400, 0}}[parser]
        silent = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        for s in (silent, slow):
            s.settimeout(5)
            assert s.recv(1) == b""
            s.close()
        assert time.monotonic() - started < 3
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_sigterm_finishes_the_requests_already_accepted(served_model: Path, tmp_path: Path) -> None:
    """A rolling update's SIGTERM: the request in progress (held 1.5 s by the batch wait) still gets its
    200, the process then exits cleanly, and nothing new is accepted meanwhile."""
    log = tmp_path / "server.log"
    settings = {"NER_BATCH_WAIT_MS": "1500", "NER_WORKERS": "1", "NER_DRAIN_S": "20"}
    proc, url = _start(served_model, settings, log)

    async def during_shutdown() -> tuple[int, dict[str, object]]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            pending = asyncio.create_task(client.post("/tag", json={"texts": [TEXTS[0]]}))
            await asyncio.sleep(0.5)  # accepted, waiting for its batch
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            with pytest.raises(httpx.TransportError):  # no longer listening
                await client.get("/health", timeout=2)
            response = await pending
            return response.status_code, response.json()

    status, body = asyncio.run(during_shutdown())
    assert status == 200 and [e["text"] for e in body["results"][0]["entities"]] == ["Alice Walker", "Paris"]
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Finished server process" in log.read_text()
