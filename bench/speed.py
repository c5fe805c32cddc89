"""Training and tagging speed, and dev F1, of a checkpoint on a CoNLL file.

    python bench/speed.py --model models/conll03-en.pt --train $NER_DATA/train.txt --dev $NER_DATA/valid.txt

Prints seconds per training epoch (extrapolated from --train-batches timed batches of the default
config), training sentences/s, and tagging tokens/s at batch 1, 32 and 256 (median of --runs runs,
pre-tokenised input, tokeniser excluded, as the spaCy peer's bench), the median time to tag one short
sentence alone, and entity F1.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tomllib
from pathlib import Path

import numpy as np
import torch

from ner.encoding.batch import buckets, collate
from ner.inference.tagger import Tagger
from ner.model.config import ModelConfig, Sizes
from ner.model.network import BiLstmCrf
from ner.runtime import freeze_loaded_objects, resolve_device
from ner.text.conll import read_conll
from ner.text.evaluate import evaluate
from ner.text.tags import convert
from ner.training.config import TrainConfig
from ner.training.data import build_vocabs
from ner.training.embeddings import load_vectors
from ner.training.train import make_optimizer

ROOT = Path(__file__).resolve().parent.parent


def tagging(tagger: Tagger, sentences: list[list[str]], runs: int) -> dict[int, float]:
    tokens = sum(map(len, sentences))
    tagger.predict(sentences[:256], batch_size=256)  # warm-up
    speeds = {}
    for batch_size in (1, 32, 256):
        subset = sentences if batch_size > 1 else sentences[:1000]
        n = tokens if batch_size > 1 else sum(map(len, subset))
        walls = []
        for _ in range(runs):
            tagger.encoder.cache_clear()  # no run profits from tokens an earlier run looked up
            t = time.perf_counter()
            tagger.predict(subset, batch_size=batch_size)
            walls.append(time.perf_counter() - t)
        speeds[batch_size] = n / statistics.median(walls)
    return speeds


def document_tagging(tagger: Tagger, documents: list[list[list[str]]], runs: int) -> float:
    """Tokens/s of ``predict_documents`` at batch 256 (how ``ner evaluate`` and ``ner tag`` read a
    CoNLL file: with the model's document context or memory)."""
    tokens = sum(len(s) for d in documents for s in d)
    walls = []
    for _ in range(runs):
        tagger.encoder.cache_clear()
        t = time.perf_counter()
        tagger.predict_documents(documents, batch_size=256)
        walls.append(time.perf_counter() - t)
    return tokens / statistics.median(walls)


SHORT = ["U.N.", "official", "Ekeus", "heads", "for", "Baghdad", "."]  # the README's example


def latency(tagger: Tagger, tokens: list[str], pause: float = 0.0, calls: int = 300) -> float:
    """Median milliseconds to tag one sentence alone (entity scores included), with ``pause``
    seconds of idleness before each call, as a server sees between requests from one client."""
    for _ in range(50):
        tagger.predict([tokens])
    walls = []
    for _ in range(calls):
        if pause:
            time.sleep(pause)
        t = time.perf_counter()
        tagger.predict([tokens])
        walls.append(time.perf_counter() - t)
    return 1000 * statistics.median(walls)


def training(
    train_file: Path, config_file: Path, batches: int, device: torch.device, embeddings: str | None
) -> tuple[float, float]:
    config = tomllib.loads(config_file.read_text())
    cfg = TrainConfig(**config["train"])
    corpus = read_conll(train_file)
    vectors = load_vectors(embeddings or config.get("embeddings", "glove-6b-50d"))
    encoder, _ = build_vocabs(corpus, vectors, cfg.glove_limit, cfg.scheme)
    sizes = Sizes(len(encoder.words), len(encoder.chars), len(encoder.tags))
    model = BiLstmCrf(ModelConfig(vectors.dim, **config["model"]), sizes).to(device)
    optimizer = make_optimizer(model.parameters(), cfg)
    encoded = [encoder.encode(s.tokens, convert(s.tags, cfg.scheme)) for s in corpus.sentences]
    order = list(buckets([len(e.words) for e in encoded], cfg.batch_size, np.random.default_rng(0)))
    model.train()

    def step(indices: list[int]) -> None:
        batch = collate([encoded[i] for i in indices]).to(device)
        assert batch.tags is not None
        loss = model.loss(batch, batch.tags)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()

    for indices in order[-3:]:  # warm-up (kernels, allocator), not timed
        step(indices)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    sentences = 0
    for indices in order[:batches]:
        step(indices)
        sentences += len(indices)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_sentence = (time.perf_counter() - t) / sentences
    return per_sentence * len(encoded), 1 / per_sentence


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "conll03-en.pt")
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--train", type=Path, help="also time training on this file")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "conll03.toml")
    parser.add_argument("--train-batches", type=int, default=120)
    parser.add_argument("--embeddings", help="for --train: a GloVe text file instead of the config's vectors")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (the peer uses one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or auto (the model and training run there)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}), threads: {torch.get_num_threads()}")
    if args.train:
        epoch, rate = training(args.train, args.config, args.train_batches, device, args.embeddings)
        print(f"training: {epoch:.0f} s/epoch (extrapolated), {rate:.0f} sentences/s")
    tagger = Tagger.load(args.model, str(device))
    freeze_loaded_objects()  # as `ner serve` and the other commands do after loading
    dev = read_conll(args.dev)
    sentences = [s.tokens for s in dev.sentences]
    for batch_size, speed in tagging(tagger, sentences, args.runs).items():
        print(f"tagging batch {batch_size}: {speed:,.0f} tokens/s (median of {args.runs})")
    print(
        f"one sentence alone ({len(SHORT)} tokens): p50 {latency(tagger, SHORT):.2f} ms back to back, "
        f"{latency(tagger, SHORT, pause=0.005):.2f} ms after 5 ms idle"
    )
    documents = [[s.tokens for s in d] for d in dev.documents()]
    speed = document_tagging(tagger, documents, args.runs)
    print(f"tagging {len(documents)} documents, batch 256: {speed:,.0f} tokens/s (median of {args.runs})")
    report = evaluate([s.tags for s in dev.sentences], tagger.tag(sentences))
    tokens = sum(map(len, sentences))
    print(f"entity F1 {report.overall.f1:.2f} over {len(sentences)} sentences, {tokens} tokens, each alone")
    by_document = [t for d in tagger.tag_documents(documents) for t in d]
    report = evaluate([s.tags for s in dev.sentences], by_document)
    print(f"entity F1 {report.overall.f1:.2f} read by documents (as the model was trained)")


if __name__ == "__main__":
    main()
