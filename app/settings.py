"""Service settings, read from ``NER_*`` environment variables and handed to the app factory."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ner.runtime import threads_per_worker, torch_installed, wants_gpu, worker_count


class Settings(BaseSettings):
    """Every knob of the service; each field is also the environment variable ``NER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NER_", extra="ignore")

    model: str | None = Field(None, description="checkpoint path (default: the bundled model)")
    device: str = Field("auto", description="auto (GPU if present), cpu or cuda")
    backend: Literal["auto", "torch", "numpy", "onnx"] = Field(
        "auto",
        description="the model's backend: torch (GPUs), numpy (no PyTorch: the slim image) or onnx (ONNX "
        "Runtime over the graph ner export wrote beside the model); auto is torch where it is installed, "
        "else numpy",
    )
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    workers: int = Field(
        0,
        ge=0,
        description="model processes, one thread each (0: one fewer than the cores from 3 cores on, "
        "else 1; always 1 on a GPU)",
    )
    worker: Literal["auto", "thread", "process"] = Field(
        "auto",
        description="with one model worker: run it in a thread of the server or in a process of its "
        "own (auto: a thread); more than one are always processes",
    )
    threads: int = Field(
        0,
        ge=0,
        description="PyTorch CPU threads per model worker (0: 1 with several workers, else one fewer "
        "than the cores, at least 1)",
    )
    batch_size: int = Field(256, ge=1, description="most sentences in one model call")
    batch_wait_ms: float = Field(
        0.0, ge=0, description="extra wait for more requests before a model call (ms)"
    )
    queue_limit: int = Field(8192, ge=1, description="sentences waiting or running before 503")
    queue_tokens: int = Field(200_000, ge=1, description="tokens waiting or running before 503")
    max_wait_s: float = Field(
        5.0, gt=0, description="503 when the estimated wait in the queue is longer (seconds)"
    )
    model_timeout_s: float = Field(
        30.0, gt=0, description="deadline of one model call: its requests get 504, the worker is replaced"
    )
    max_texts: int = Field(128, ge=1, description="texts (or token lists) per request")
    max_chars: int = Field(20_000, ge=1, description="characters per text")
    max_tokens: int = Field(2_000, ge=1, description="tokens per pre-tokenised list")
    max_token_chars: int = Field(1_000, ge=1, description="characters per pre-tokenised token")
    max_request_chars: int = Field(
        1_000_000,
        ge=1,
        description="characters per request, all texts or tokens together (about 180,000 tokens of news)",
    )
    max_body_bytes: int = Field(4_000_000, ge=1, description="request body size, counted as it arrives")
    header_timeout_s: float = Field(
        10.0, gt=0, description="time for a client to send a request's headers, and then its body"
    )
    timeout_keep_alive: int = Field(5, ge=1, description="idle keep-alive connections close after (s)")
    drain_s: int = Field(
        30,
        ge=1,
        description="on SIGTERM or Ctrl-C: stop accepting, finish the requests already accepted for at "
        "most this long, then stop (a rolling update loses nothing)",
    )
    limit_concurrency: int = Field(
        1000,
        ge=1,
        description="requests in progress at once before 503 (/health and /ready are never refused, and "
        "idle connections do not count)",
    )
    max_head_bytes: int = Field(
        65_536, ge=1024, description="a request's line and headers together (431 or 400 past it)"
    )
    api_keys: str = Field(
        "",
        description="comma-separated keys; when set, every route but /health and /ready needs "
        "'Authorization: Bearer KEY' (401 without)",
    )
    cors_origins: str = Field("", description="comma-separated origins allowed by CORS ('*': any)")
    access_log: bool = Field(False, description="log every request with its X-Request-ID")
    log_format: Literal["text", "json"] = Field("text", description="log lines as text or JSON")
    sentence_tokens: int = Field(128, ge=1, description="longest sentence before it is cut")

    @model_validator(mode="after")
    def _a_backend_that_can_run(self) -> Self:
        if self.backend == "torch" and not torch_installed():
            raise ValueError("backend=torch, but PyTorch is not installed here: use backend=numpy (or auto)")
        if self.model_backend() != "torch" and self.device.startswith("cuda"):
            raise ValueError(
                f"the {self.model_backend()} backend runs on the CPU only, not device={self.device}"
            )
        return self

    @model_validator(mode="after")
    def _one_thread_worker(self) -> Self:
        if self.worker == "thread" and self.workers > 1:
            raise ValueError(f"worker=thread runs one model worker, not workers={self.workers}")
        return self

    def model_backend(self) -> Literal["torch", "numpy", "onnx"]:
        """The backend the model runs on (``auto`` decided by what is installed)."""
        if self.backend != "auto":
            return self.backend
        return "torch" if torch_installed() else "numpy"

    def on_gpu(self) -> bool:
        return wants_gpu(self.device)

    def model_workers(self) -> int:
        """How many model workers to run."""
        if self.workers:
            return self.workers
        return worker_count(self.device, reserve=1)  # a core of its own for the event loop

    def uses_processes(self) -> bool:
        return self.model_workers() > 1 or self.worker == "process"

    def model_threads(self) -> int:
        """PyTorch threads per worker: several workers take one each; one worker leaves the event
        loop a core of its own."""
        if self.threads:
            return self.threads
        return threads_per_worker(self.model_workers(), reserve=1)

    @model_validator(mode="after")
    def _usable_keys(self) -> Self:
        if self.api_keys.strip() and not self.keys():
            raise ValueError(
                "api_keys holds no key (only commas and spaces): set a key, or leave it empty for no keys"
            )
        return self

    def keys(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
