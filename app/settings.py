"""Service settings, read from ``NER_*`` environment variables and handed to the app factory."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; each field is also the environment variable ``NER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NER_", extra="ignore")

    model: str | None = Field(None, description="checkpoint path (default: the bundled model)")
    device: str = Field("auto", description="auto (GPU if present), cpu or cuda")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    worker: Literal["thread", "process"] = Field(
        "thread", description="run the model in a thread of the server or in a process of its own"
    )
    threads: int = Field(
        0, ge=0, description="PyTorch CPU threads for the model (0: one fewer than the cores, at least 1)"
    )

    def model_threads(self) -> int:
        """The PyTorch thread count to use: the event loop keeps a core of its own when ``threads`` is 0."""
        return self.threads or max(1, (os.cpu_count() or 1) - 1)

    batch_size: int = Field(256, ge=1, description="most sentences in one model call")
    batch_wait_ms: float = Field(
        0.0, ge=0, description="extra wait for more requests before a model call (ms)"
    )
    queue_limit: int = Field(8192, ge=1, description="sentences waiting before 503")
    max_texts: int = Field(128, ge=1, description="texts (or token lists) per request")
    max_chars: int = Field(20_000, ge=1, description="characters per text")
    max_tokens: int = Field(2_000, ge=1, description="tokens per pre-tokenised list")
    max_body_bytes: int = Field(4_000_000, ge=1, description="request body size")
    access_log: bool = Field(False, description="log every request (uvicorn's access log)")
    sentence_tokens: int = Field(128, ge=1, description="longest sentence before it is cut")
