"""``ner serve`` started for a benchmark: on a free loopback port, waited for until /ready says 200."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    model: Path | None, device: str = "cpu", ready_s: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its URL; settings come from the NER_* environment as usual."""
    port = free_port()
    cmd = [sys.executable, "-m", "ner.cli", "serve", "--port", str(port), "--device", device]
    if model:
        cmd += ["--model", str(model)]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not become ready within {ready_s:g} s")
