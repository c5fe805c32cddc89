"""Does choosing what to label by uncertainty beat choosing at random? A simulation of `ner select`.

    python bench/active_learning.py --train DATA/train.txt --dev DATA/valid.txt --seeds 3 \
        --start 3000 --step 3000 --rounds 4 --out runs/active

The pool is the training file's sentences, their gold tags hidden until "labelled". What labelling
costs is counted in tokens (people read every word of a sentence they label), so budgets are tokens:
each seed draws the same random sentences for both strategies until --start tokens; then, round by
round, each strategy adds sentences until --step more tokens: `uncertainty` the ones its current
model is least sure of first (ner.inference.uncertainty, as `ner select` ranks them), `random` in a
random order. After each addition a fresh model is trained on
what is labelled (a small recipe with capped epochs, so that it runs on a laptop) and scored on the
second half of the dev file's documents; the first half chooses its epoch. Prints one row per
(strategy, size) with mean and sd over seeds, writes results.json and a plot (matplotlib) into --out.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from ner.inference.evaluation import evaluate_tagger
from ner.inference.tagger import Tagger
from ner.inference.uncertainty import uncertainty
from ner.text.conll import Corpus, read_conll
from ner.training.config import TrainConfig
from ner.training.embeddings import load_vectors
from ner.training.train import train

MODEL = {"hidden": 100, "memory": 0, "context": 0}
CPU = torch.device("cpu")  # sentences are the records: nothing of documents


def subset(corpus: Corpus, indices: list[int], name: str) -> Corpus:
    sentences = [replace(corpus.sentences[i], document=k) for k, i in enumerate(indices)]
    return Corpus(name, sentences, corpus.scheme, f"{name}-{len(indices)}")


def halves(dev: Corpus) -> tuple[Corpus, Corpus]:
    documents = dev.documents()
    first = [s for d in documents[0::2] for s in d]
    second = [s for d in documents[1::2] for s in d]
    return Corpus("dev-a", first, dev.scheme, "dev-a"), Corpus("dev-b", second, dev.scheme, "dev-b")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--start", type=int, default=3000, help="tokens labelled at first")
    parser.add_argument("--step", type=int, default=3000, help="tokens added each round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs/active"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    pool = read_conll(args.train)
    select_dev, test = halves(read_conll(args.dev))
    vectors = load_vectors("glove-6b-50d")
    cfg = TrainConfig(
        epochs=args.epochs, patience=args.epochs, weight_average=0.0, reflow=0.0
    )  # reflow needs memory
    lengths = [len(s.tokens) for s in pool.sentences]
    # strategy -> round -> one (tokens labelled, sentences labelled, test F1) per seed
    results: dict[str, dict[int, list[tuple[int, int, float]]]] = {"uncertainty": {}, "random": {}}

    def budget(ranked: list[int], tokens: int) -> list[int]:
        """The first sentences of ``ranked`` until they hold ``tokens`` tokens."""
        out, total = [], 0
        for i in ranked:
            if total >= tokens:
                break
            out.append(i)
            total += lengths[i]
        return out

    def fit(indices: list[int], seed: int, tag: str) -> tuple[Tagger, tuple[int, int, float]]:
        out = args.out / f"{tag}.pt"
        train(MODEL, replace(cfg, seed=seed), subset(pool, indices, tag), select_dev, vectors, out, CPU)
        tagger = Tagger.load(out, "cpu")
        f1 = evaluate_tagger(tagger, test).report.overall.f1
        return tagger, (sum(lengths[i] for i in indices), len(indices), f1)

    for seed in range(1, args.seeds + 1):
        started = time.monotonic()
        order = list(range(len(pool.sentences)))
        random.Random(seed).shuffle(order)
        first = budget(order, args.start)
        tagger, row = fit(first, seed, f"s{seed}-start")
        for strategy in results:
            results[strategy].setdefault(0, []).append(row)
        for strategy in results:
            labelled, model = list(first), tagger
            picker = random.Random(seed * 1000 + 7)
            for k in range(1, args.rounds + 1):
                chosen = set(labelled)
                rest = [i for i in range(len(pool.sentences)) if i not in chosen]
                if strategy == "random":
                    picker.shuffle(rest)
                else:
                    scores = uncertainty(model, [[pool.sentences[i].tokens] for i in rest])
                    rest = [rest[j] for j in sorted(range(len(rest)), key=lambda j: -scores[j])]
                labelled += budget(rest, args.step)
                model, row = fit(labelled, seed, f"s{seed}-{strategy}-{k}")
                results[strategy].setdefault(k, []).append(row)
                print(
                    f"seed {seed} {strategy:<11} round {k}: {row[1]:>5} sentences, {row[0]:>6} tokens, "
                    f"test F1 {row[2]:.2f}",
                    flush=True,
                )
        print(f"seed {seed} done in {(time.monotonic() - started) / 60:.1f} min", flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print("\nstrategy     round  tokens  sentences  test F1 (mean ± sd over seeds)")
    for strategy, rounds in results.items():
        for k, rows in sorted(rounds.items()):
            f1s = [r[2] for r in rows]
            sd = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
            tokens = statistics.mean(r[0] for r in rows)
            sentences = statistics.mean(r[1] for r in rows)
            mean, n = statistics.mean(f1s), len(f1s)
            print(
                f"{strategy:<12} {k:>5} {tokens:>7.0f} {sentences:>10.0f}  {mean:.2f} ± {sd:.2f}  ({n} seeds)"
            )
    plot(results, args.out / "active_learning.png")


def plot(results: dict[str, dict[int, list[tuple[int, int, float]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for strategy, rounds in results.items():
        ks = sorted(rounds)
        tokens = [statistics.mean(r[0] for r in rounds[k]) for k in ks]
        f1s = [[r[2] for r in rounds[k]] for k in ks]
        means = [statistics.mean(f) for f in f1s]
        sds = [statistics.stdev(f) if len(f) > 1 else 0.0 for f in f1s]
        ax.errorbar(tokens, means, yerr=sds, marker="o", capsize=3, label=strategy)
    ax.set_xlabel("labelled tokens")
    ax.set_ylabel("test F1 (dev, second half of documents)")
    ax.set_title("Labelling by uncertainty against at random (CoNLL-2003)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
