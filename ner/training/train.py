"""Training: a flat loop with early stopping on dev F1, resumable, writing one checkpoint (the data it
reads: :mod:`ner.training.data`; its regularisers: :mod:`ner.training.regularizers`)."""

from __future__ import annotations

import json
import logging
import platform
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ner import __version__
from ner.encoding.batch import block_batches, buckets, collate
from ner.inference.tagger import Tagger
from ner.model.checkpoint import load_plain, remove_stale_temporaries, save_atomic, write_atomic
from ner.model.config import ModelConfig, Sizes
from ner.model.network import BiLstmCrf
from ner.model.torch_backend import TorchBackend
from ner.runtime import InputError, stop_on_signals
from ner.text.conll import Corpus
from ner.text.evaluate import Report, evaluate
from ner.text.gazetteer import read_lists
from ner.text.normalize import NORMALIZATION
from ner.training.config import TrainConfig
from ner.training.data import (
    build_vocabs,
    memory_blocks,
    reflowed_blocks,
    singleton_rows,
    training_examples,
)
from ner.training.embeddings import Vectors, embedding_matrix
from ner.training.regularizers import SentenceDropout, WeightAverage

log = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    lr: float
    seconds: float
    dev: dict[str, Any]
    raw_dev_f1: float | None = None  # with weight_average: the last step's weights' dev F1


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_f1: float = -1.0
    time_limited: bool = False  # stopped by max_minutes: the resume state is kept for --resume


class Progress(Protocol):
    """What the loop reports; the CLI draws it, library code only calls it."""

    def start_epoch(self, epoch: int, batches: int) -> None: ...
    def batch(self, loss: float) -> None: ...
    def end_epoch(self, record: EpochRecord, best: bool) -> None: ...


class Interrupted(Exception):
    """Training stopped by SIGINT or SIGTERM; the best checkpoint and the resume state are intact."""


def resume_path(out: Path) -> Path:
    return out.with_name(out.stem + ".resume.pt")


def parameter_groups(model: torch.nn.Module, embed_lr_scale: float) -> Any:
    """What the optimizer trains: all of ``model``'s parameters as one group at ``lr``, or, with
    ``embed_lr_scale`` other than 1, the word embedding in a group of its own whose "scale" multiplies
    the learning rate the schedule sets."""
    if embed_lr_scale == 1.0:
        return model.parameters()
    named = list(model.named_parameters())
    embedding = [p for n, p in named if n.startswith("word_embed.")]
    rest = [p for n, p in named if not n.startswith("word_embed.")]
    return [{"params": rest, "scale": 1.0}, {"params": embedding, "scale": embed_lr_scale}]


def make_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.NAdam(params, lr=cfg.lr)


def dev_report(tagger: Tagger, dev: Corpus) -> Report:
    """Scores on ``dev``, read by documents (with the context the model was trained for)."""
    documents = dev.documents()
    predicted = tagger.tag_documents([[s.tokens for s in d] for d in documents])
    return evaluate([s.tags for d in documents for s in d], [t for d in predicted for t in d])


def train(
    model_cfg: dict[str, Any],
    cfg: TrainConfig,
    train_data: Corpus,
    dev_data: Corpus,
    vectors: Vectors,
    out: Path,
    device: torch.device,
    progress: Progress | None = None,
    resume: bool = False,
) -> History:
    """Train, writing the best checkpoint (by dev entity F1) to ``out`` after each better epoch.

    ``model_cfg`` holds :class:`ModelConfig` fields other than the vocabulary sizes. After every
    epoch a resume state goes beside ``out``; ``resume=True`` continues from it.

    Raises:
        Interrupted: on SIGINT/SIGTERM, after which ``out`` still holds the best epoch so far.
    """
    state_file = resume_path(out)
    for written in (out, state_file, *_metrics_files(out)):
        for stale in remove_stale_temporaries(written):
            log.info("removed %s, left by a run that was killed while writing", stale)
    state: dict[str, Any] | None = None
    if resume:
        state = load_plain(state_file)
        # the run's own settings, but for the time limit, which belongs to this sitting
        cfg = replace(cfg, **{**state["train_config"], "max_minutes": cfg.max_minutes})
        model_cfg = {k: v for k, v in state["model_config"].items() if not k.startswith("num_")}
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    encoder, singletons = build_vocabs(train_data, vectors, cfg.glove_limit, cfg.scheme)
    if cfg.gazetteer:
        encoder.gazetteer = read_lists(cfg.gazetteer, cfg.tokenizer)
        lists = zip(encoder.gazetteer.labels, encoder.gazetteer.names)
        log.info("name lists: %s", ", ".join(f"{label} ({len(names)} names)" for label, names in lists))
    config = ModelConfig(word_dim=vectors.dim, **{k: v for k, v in model_cfg.items() if k != "word_dim"})
    width = 0 if encoder.gazetteer is None else len(encoder.gazetteer.labels)
    sizes = Sizes(len(encoder.words), len(encoder.chars), len(encoder.tags), width)
    model = BiLstmCrf(config, sizes)
    matrix, found = embedding_matrix(encoder.words.items, vectors, cfg.seed)
    assert isinstance(model.word_embed, torch.nn.Embedding)
    model.word_embed.weight.data.copy_(torch.from_numpy(matrix))
    if config.memory and len(train_data.documents()) == 1 and len(train_data.sentences) > 1:
        log.warning(
            "%s has no -DOCSTART- lines, so it is one document: document memory (memory = %d) joins "
            "consecutive sentences into blocks; set memory = 0 in [model] if they are unrelated "
            "(tweets: see configs/wnut17.toml)",
            train_data.path,
            config.memory,
        )
    examples = training_examples(train_data, cfg.scheme, config.context)
    blocks = memory_blocks(train_data, config.memory)  # sentence indices of each block, or None
    encoded = [encoder.encode(tokens, tags) for tokens, tags in examples]
    lowered = (
        [encoder.encode([t.lower() for t in tokens], tags) for tokens, tags in examples]
        if cfg.lowercase
        else []
    )
    soft = None  # each example's teacher distributions (tokens, num_tags), when distilling
    if cfg.teachers:
        from ner.training.distil import teacher_marginals

        tokens = [t for t, _ in examples]
        soft = teacher_marginals(list(cfg.teachers), tokens, blocks, encoder.tags.items, cfg.scheme, device)
    originals = len(encoded)
    flowing = None  # each block's sentences as flowing text would be split (indices past originals)
    if cfg.reflow and (blocks is None or config.context or cfg.teachers):
        log.warning(
            "reflow = %g is ignored: it needs document memory, and no context or teachers", cfg.reflow
        )
    elif cfg.reflow and blocks is not None:
        flowing = reflowed_blocks(examples, blocks)
        for words, tags in flowing.examples:
            encoded.append(encoder.encode(words, tags))
            if cfg.lowercase:
                lowered.append(encoder.encode([w.lower() for w in words], tags))
    seen = {encoder.words.unk, *(w for e in encoded for w in e.words)}
    model.freeze_words_except(torch.tensor(sorted(seen)))  # no other row ever gets a gradient
    if cfg.variational:
        model.dropout = SentenceDropout(config.dropout)
    model.to(device)
    optimizer = make_optimizer(parameter_groups(model, cfg.embed_lr_scale), cfg)
    average = WeightAverage(model.parameters(), cfg.weight_average) if cfg.weight_average else None
    history = History()
    if state is not None:
        if state.get("optimizer_over") != "training words":
            raise InputError("the resume state comes from an older version: start the run again", state_file)
        if state["vocab_words"] != encoder.words.items:
            raise InputError("the training data or embeddings changed since the run began", state_file)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if average is not None:
            average.load_state_dict(state["average"])
        history = History([EpochRecord(**r) for r in state["history"]], state["best_epoch"], state["best_f1"])
    metadata: dict[str, Any] = {
        "name": out.stem,
        "train": {"path": train_data.path, "sha256": train_data.sha256},
        "dev": {"path": dev_data.path, "sha256": dev_data.sha256},
        "embeddings": {"words": len(vectors.words), "dim": vectors.dim, "pretrained_rows": found},
        "train_config": asdict(cfg),
        "tokenizer": cfg.tokenizer,
        "normalization": NORMALIZATION,  # how tokens were read (ner.text.normalize), so that it can change
        "versions": {
            "ner": __version__,
            "torch": str(torch.__version__),
            "python": platform.python_version(),
        },
    }
    tagger = Tagger(
        TorchBackend(model, device), encoder, config, cfg.scheme, train_data.scheme or "iob2", metadata
    )
    lengths = [len(e.words) for e in encoded]
    block_of = None if blocks is None else {i: b for b, block in enumerate(blocks) for i in block}
    is_single = singleton_rows(encoder, singletons, encoded[:originals], cfg.unk_singletons).to(device)
    if flowing is not None and block_of is not None:
        block_of.update((i, b) for b, block in enumerate(flowing.blocks) for i in block)
    started = time.monotonic()
    with stop_on_signals() as caught:
        for epoch in range(len(history.epochs) + 1, cfg.epochs + 1):
            if not cfg.final and history.epochs and epoch - history.best_epoch > cfg.patience:
                log.info("no better dev F1 for %d epochs: stopping", cfg.patience)
                break
            if cfg.max_minutes and time.monotonic() - started > 60 * cfg.max_minutes:
                log.info("time limit of %g minutes reached: stopping", cfg.max_minutes)
                history.time_limited = True
                break
            lr = cfg.lr / (1 + cfg.lr_decay * (epoch - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("scale", 1.0)
            torch.manual_seed(cfg.seed * 1000 + epoch)  # each epoch reproducible, resumed or not
            rng = np.random.default_rng([cfg.seed, epoch])
            if blocks is None:
                order = list(buckets(lengths, cfg.batch_size, rng))
            else:
                order = list(block_batches(blocks, cfg.batch_size, rng))
            group_of = block_of  # each sentence's block, as tagging reads it
            if blocks is not None and block_of is not None and cfg.memory_dropout:
                alone = rng.random(len(blocks)) < cfg.memory_dropout  # blocks read as lone sentences
                group_of = {i: -1 - i if alone[b] else b for i, b in block_of.items()}  # -1 - i: unique
            # drawn after the memory's draw, so that a run without it draws as before
            lower = np.zeros(len(encoded), bool)  # the sentences read lower-cased this epoch
            if cfg.lowercase and blocks is not None and block_of is not None:  # a text has capitals or not
                lowered_blocks = rng.random(len(blocks)) < cfg.lowercase
                lower = np.array([lowered_blocks[block_of[i]] for i in range(len(encoded))])
            elif cfg.lowercase:
                lower = rng.random(len(encoded)) < cfg.lowercase
            if flowing is not None and block_of is not None:  # drawn last: runs without it draw as before
                flowed = rng.random(len(flowing.blocks)) < cfg.reflow
                order = [flowing.substitute(batch, flowed, block_of) for batch in order]
            if progress:
                progress.start_epoch(epoch, len(order))
            model.train()
            t0 = time.monotonic()
            total = 0.0
            for indices in order:
                groups = None if group_of is None else [group_of[i] for i in indices]
                batch = collate([lowered[i] if lower[i] else encoded[i] for i in indices], groups).to(device)
                assert batch.tags is not None
                if cfg.unk_replace:
                    hide = is_single[batch.words] & (
                        torch.rand(batch.words.shape, device=device) < cfg.unk_replace
                    )
                    batch.words = batch.words.masked_fill(hide, encoder.words.unk)
                if soft is None:
                    loss = model.loss(batch, batch.tags)
                else:
                    targets = batch.mask.new_zeros((*batch.mask.shape, sizes.tags), dtype=torch.float32)
                    for row, i in enumerate(indices):  # (batch, seq, num_tags), zero past each end
                        targets[row, : len(soft[i])] = torch.from_numpy(soft[i])
                    loss = model.distilled_loss(batch, batch.tags, targets, cfg.distil)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                optimizer.step()
                if average is not None:
                    average.update()
                total += loss.item()
                if progress:
                    progress.batch(loss.item())
                if caught:
                    raise Interrupted(f"stopped by signal {caught[0]} during epoch {epoch}")
            raw_f1 = None
            if average is not None:
                raw_f1 = dev_report(tagger, dev_data).overall.f1
            with average.applied() if average is not None else nullcontext():
                report = dev_report(tagger, dev_data)
                better = cfg.final or report.overall.f1 > history.best_f1  # final: the last epoch is kept
                if better:
                    history.best_epoch, history.best_f1 = epoch, report.overall.f1
                    tagger.metadata.update(
                        epoch=epoch,
                        dev_scores=report.to_dict(),
                        date=datetime.now(UTC).isoformat(timespec="seconds"),
                    )
                    save_atomic(tagger.checkpoint(), out)
            seconds = time.monotonic() - t0
            record = EpochRecord(epoch, total / len(order), lr, seconds, report.to_dict(), raw_f1)
            history.epochs.append(record)
            save_atomic(
                {
                    "train_config": asdict(cfg),
                    "model_config": config.for_checkpoint(sizes),
                    "vocab_words": encoder.words.items,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "optimizer_over": "training words",  # the embedding rows it updates
                    **({} if average is None else {"average": average.state_dict()}),
                    "history": [asdict(r) for r in history.epochs],
                    "best_epoch": history.best_epoch,
                    "best_f1": history.best_f1,
                },
                state_file,
            )
            write_metrics(out, history)
            if progress:
                progress.end_epoch(record, better)
            if caught:
                raise Interrupted(f"stopped by signal {caught[0]} after epoch {epoch}")
    if not history.time_limited:
        state_file.unlink(missing_ok=True)  # finished: nothing left to resume
    return history


_NO_MATPLOTLIB_TOLD: list[bool] = []  # said once per process, not every epoch


def write_metrics(out: Path, history: History) -> None:
    """The learning curve beside the checkpoint: JSON always, a PNG when matplotlib is installed."""
    data = {
        "best_epoch": history.best_epoch,
        "best_dev_f1": history.best_f1,
        "epochs": [asdict(r) for r in history.epochs],
    }
    metrics_json, curve_png = _metrics_files(out)
    text = (json.dumps(data, indent=2) + "\n").encode()
    write_atomic(metrics_json, lambda f: f.write(text))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not _NO_MATPLOTLIB_TOLD:
            log.info("matplotlib not installed (pip install 'ner-service[train]'): no learning-curve PNG")
            _NO_MATPLOTLIB_TOLD.append(True)
        return
    epochs = [r.epoch for r in history.epochs]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [r.dev["overall"]["f1"] for r in history.epochs], "o-", label="dev F1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev entity F1 (%)")
    loss_ax = ax.twinx()
    loss_ax.plot(epochs, [r.loss for r in history.epochs], "s--", color="tab:red", label="train loss")
    loss_ax.set_ylabel("train loss (NLL per sentence)")
    fig.legend(loc="center right", bbox_to_anchor=(0.86, 0.5))
    fig.tight_layout()
    try:
        write_atomic(curve_png, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def _metrics_files(out: Path) -> tuple[Path, Path]:
    """The learning curve's files beside the checkpoint ``out``: JSON and PNG."""
    return out.with_name(out.stem + ".metrics.json"), out.with_name(out.stem + ".curve.png")
