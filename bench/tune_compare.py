"""Samplers of `ner tune` on one real, short study: equal trial budgets, several seeds.

    python bench/tune_compare.py --train DATA/train.txt --dev DATA/valid.txt --sentences 1500 \
        --trials 12 --epochs 3 --seeds 2 --out runs/tune-compare

The study trains on the first --sentences sentences of the training file and scores on the even
documents of the dev file (capped epochs, so that a trial takes seconds); each sampler runs --trials
trials per seed with `ner tune`'s default search space (the bundled recipe first). Prints the best dev
F1 of each (sampler, seed) and the mean ± sd per sampler.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from ner.text.conll import read_conll

SAMPLERS = ("woa", "tpe", "random")


def write_conll(path: Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    lines = ["-DOCSTART- O", ""]
    for tokens, tags in sentences:
        lines += [f"{t} {g}" for t, g in zip(tokens, tags)] + [""]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--sentences", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/tune-compare"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train = read_conll(args.train).sentences[: args.sentences]
    dev = [s for d in read_conll(args.dev).documents()[0::2] for s in d]
    write_conll(args.out / "train.txt", [(s.tokens, s.tags) for s in train])
    write_conll(args.out / "dev.txt", [(s.tokens, s.tags) for s in dev])
    import optuna

    best: dict[str, list[float]] = {}
    for seed in range(1, args.seeds + 1):
        for sampler in SAMPLERS:
            out = args.out / f"{sampler}-{seed}"
            cmd = [
                sys.executable, "-m", "ner.cli", "tune", "--train", str(args.out / "train.txt"),
                "--dev", str(args.out / "dev.txt"), "--out", str(out), "--trials", str(args.trials),
                "--epochs-per-trial", str(args.epochs), "--sampler", sampler, "--seed", str(seed),
                "--pruner", "none", "--population", "4", "--generations", "2", "--device", "cpu",
            ]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True)
            study = optuna.load_study(study_name="ner", storage=f"sqlite:///{(out / 'study.db').resolve()}")
            best.setdefault(sampler, []).append(study.best_value)
            print(f"seed {seed} {sampler:<7} best dev F1 {study.best_value:.2f}", flush=True)
    print(f"\nbest dev F1 after {args.trials} trials, mean ± sd over {args.seeds} seeds")
    for sampler, values in best.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"{sampler:<7} {statistics.mean(values):.2f} ± {sd:.2f}  ({each})")


if __name__ == "__main__":
    main()
