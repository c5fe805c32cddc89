"""The service on Ray Serve: the same FastAPI app (:func:`app.main.create_app`) as replicas of one
deployment, behind Ray's HTTP proxy, scaled between a least and a most number of replicas by the
requests each one has in hand. Needs the ``ray`` extra (``ray[serve]``); nothing else imports it.

One command starts it on the Ray cluster found (or a local one)::

    serve run app.ray_serve:build min_replicas=1 max_replicas=4

Every replica builds the app from its own ``NER_*`` environment, which :func:`build` copies from the
command's (so ``NER_MODEL=... serve run ...`` serves that checkpoint everywhere, as ``ner serve`` does),
with one model worker in a thread per replica: Ray places replicas, so each one takes
``cpus_per_replica`` of the cluster's CPUs and gives its model that many threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from app.main import create_app
from app.settings import Settings


@dataclass(frozen=True)
class ServeOptions:
    """The deployment's scale: ``serve run app.ray_serve:build name=value ...`` sets each field."""

    min_replicas: int = 1
    max_replicas: int = 4
    # Ray adds replicas while replicas have more requests than this in hand each, on average, and
    # removes them when they have fewer. A replica batches what it holds into model calls, so a few
    # dozen in hand keep it busy without a long queue.
    target_ongoing_requests: int = 16
    max_ongoing_requests: int = 64  # more are held at the proxy (and answered 503 past its queue)
    cpus_per_replica: float = 1.0
    # GPUs Ray gives each replica (a fraction shares one); with one, the replica's model runs on it
    # (NER_DEVICE auto), with PyTorch: the torch backend.
    gpus_per_replica: float = 0.0
    # A replica being removed finishes the requests it holds for up to this long (as NER_DRAIN_S).
    drain_s: int = 20
    route_prefix: str = "/"

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"need 1 <= min_replicas <= max_replicas (got {self.min_replicas} and {self.max_replicas})"
            )
        for name in ("target_ongoing_requests", "max_ongoing_requests"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.cpus_per_replica <= 0 or self.gpus_per_replica < 0 or self.drain_s < 0:
            raise ValueError("cpus_per_replica must be > 0, gpus_per_replica and drain_s >= 0")

    @classmethod
    def of_args(cls, args: dict[str, str]) -> ServeOptions:
        """From ``serve run``'s ``name=value`` arguments (strings), each checked.

        Raises:
            ValueError: an unknown name or a value of the wrong kind, said by name.
        """
        kinds = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(args) - set(kinds))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(kinds)}")
        values: dict[str, Any] = {}
        for name, text in args.items():
            kind = {"int": int, "float": float, "str": str}[str(kinds[name])]
            try:
                values[name] = kind(text)
            except ValueError:
                raise ValueError(f"{name} must be {kinds[name]} (got {text!r})") from None
        return cls(**values)


def replica_env(options: ServeOptions, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``NER_*`` variables every replica reads: the caller's own, with one model worker in a
    thread using the replica's CPUs, and the drain deadline."""
    given = os.environ if environ is None else environ
    env = {k: v for k, v in given.items() if k.startswith("NER_")}
    threads = str(max(1, int(options.cpus_per_replica)))
    env.update(NER_WORKERS="1", NER_WORKER="thread", NER_THREADS=threads, NER_DRAIN_S=str(options.drain_s))
    return env


def replica_app() -> Any:
    """The ASGI app of one replica, built where the replica runs, from its environment."""
    return create_app(Settings())


def build(args: dict[str, str]) -> Any:
    """The Ray Serve application (``serve run app.ray_serve:build [name=value ...]``).

    Raises:
        ValueError: a bad option (see :class:`ServeOptions`).
    """
    from ray import serve  # the ray extra: only this module needs it

    options = ServeOptions.of_args(args)
    given: dict[str, Any] = {k[4:].lower(): v for k, v in replica_env(options).items()}
    Settings(**given)  # a bad NER_* value fails here, not on every replica

    @serve.deployment(
        name="ner",
        autoscaling_config={
            "min_replicas": options.min_replicas,
            "max_replicas": options.max_replicas,
            "target_ongoing_requests": options.target_ongoing_requests,
        },
        max_ongoing_requests=options.max_ongoing_requests,
        ray_actor_options={
            "num_cpus": options.cpus_per_replica,
            "num_gpus": options.gpus_per_replica,
            "runtime_env": {"env_vars": replica_env(options)},
        },
        graceful_shutdown_timeout_s=options.drain_s,
    )
    @serve.ingress(replica_app)
    class Ner:
        """One replica: the service's app, with its model loaded before Ray sends it requests."""

    return Ner.bind()  # type: ignore[attr-defined]
