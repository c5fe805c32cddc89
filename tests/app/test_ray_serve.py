"""The service on Ray Serve (:mod:`app.ray_serve`): its options, and on a local Ray the same answers
as ``ner serve``'s app, and a replica killed under requests replaced while the others answer."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.ray_serve import ServeOptions, build, replica_env
from app.settings import Settings
from ner.inference.tagger import Tagger

TEXTS = ["Angela Merkel met Jacques Chirac in Paris .", "EU rejects German call .", "", "no names here"]


def test_options_come_from_serve_run_arguments_checked() -> None:
    options = ServeOptions.of_args({"min_replicas": "2", "max_replicas": "3", "cpus_per_replica": "1.5"})
    assert (options.min_replicas, options.max_replicas, options.cpus_per_replica) == (2, 3, 1.5)
    with pytest.raises(ValueError, match=r"unknown option\(s\) replica; known: min_replicas"):
        ServeOptions.of_args({"replica": "2"})
    with pytest.raises(ValueError, match="max_replicas must be int"):
        ServeOptions.of_args({"max_replicas": "many"})
    with pytest.raises(ValueError, match="min_replicas <= max_replicas"):
        ServeOptions.of_args({"min_replicas": "3", "max_replicas": "2"})
    with pytest.raises(ValueError, match="gpus_per_replica and drain_s >= 0"):
        ServeOptions.of_args({"gpus_per_replica": "-1"})
    assert ServeOptions.of_args({"gpus_per_replica": "0.5"}).gpus_per_replica == 0.5


def test_each_replica_reads_the_callers_settings_with_one_model_worker() -> None:
    env = replica_env(ServeOptions(cpus_per_replica=2.0, drain_s=7), {"NER_MODEL": "m.pt", "HOME": "/"})
    assert env == {
        "NER_MODEL": "m.pt", "NER_WORKERS": "1", "NER_WORKER": "thread", "NER_THREADS": "2",
        "NER_DRAIN_S": "7",
    }  # fmt: skip


def test_a_bad_setting_fails_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray.serve")
    monkeypatch.setenv("NER_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="batch_size"):
        build({})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_service(model_path: Path) -> Iterator[str]:
    """Two replicas of the tiny model on a local Ray; the proxy's address."""
    pytest.importorskip("ray.serve")
    import ray
    from ray import serve

    port = _free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NER_MODEL", str(model_path))
        mp.setenv("NER_BACKEND", "numpy")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            serve.run(
                build({"min_replicas": "2", "max_replicas": "2", "cpus_per_replica": "0.5"}),
                name="ner",
                route_prefix="/",
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            serve.shutdown()
            ray.shutdown()


def test_replicas_answer_as_ner_serve_does(ray_service: str, model_path: Path) -> None:
    tagger = Tagger.load(model_path, backend="numpy")
    bodies: list[dict[str, Any]] = [
        {"texts": TEXTS},
        {"tokens": [["Angela", "Merkel", "visited", "Paris"], ["EU"]], "return_tokens": True},
        {"texts": ["x" * 50]},
        {"texts": "not a list"},
    ]
    with TestClient(create_app(Settings(), tagger)) as local, httpx.Client(base_url=ray_service) as ray:
        for body in bodies:
            expected, got = local.post("/tag", json=body), ray.post("/tag", json=body)
            assert got.status_code == expected.status_code, body
            assert got.json() == expected.json(), body
        assert ray.get("/health").json() == {"status": "ok"}
        assert ray.get("/ready").json()["status"] == "ready"


def test_a_killed_replica_is_replaced_and_only_its_requests_in_flight_fail(ray_service: str) -> None:
    import ray

    def replicas() -> set[str]:
        return {a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "REPLICA" in a["name"]}

    before = replicas()
    assert len(before) == 2
    codes: list[tuple[float, int]] = []  # (time, status) of every answer
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=ray_service, timeout=30) as client:
            while not stop.is_set():
                codes.append((time.monotonic(), client.post("/tag", json={"texts": TEXTS}).status_code))

    clients = [threading.Thread(target=send) for _ in range(4)]
    for c in clients:
        c.start()
    try:
        time.sleep(1.0)
        victim = sorted(before)[0]
        killed_at = time.monotonic()
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        deadline = time.monotonic() + 120
        while (len(replicas() - {victim}) < 2) and time.monotonic() < deadline:
            time.sleep(0.5)
        replaced_at = time.monotonic()
        time.sleep(2.0)  # the replacement takes requests too
    finally:
        stop.set()
        for c in clients:
            c.join()
    after = replicas()
    assert victim not in after and len(after) == 2 and len(after - before) == 1, (before, after)
    failed = [(t, code) for t, code in codes if code != 200]
    # Only the requests the killed replica held can fail (Ray's proxy answers them 500: it cannot
    # know whether they were done); at most one per client, all at the kill, none later.
    assert len(failed) <= len(clients), Counter(code for _, code in codes)
    assert all(code == 500 and t < killed_at + 5 for t, code in failed), failed
    assert sum(1 for t, code in codes if code == 200 and t > replaced_at) > 0
    assert sum(1 for t, code in codes if code == 200 and killed_at < t < replaced_at) > 0  # others served
