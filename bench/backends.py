"""Backends side by side: PyTorch, numpy and ONNX Runtime, in-process at one thread, and whole
process (start, load, tag), in turns so that the machine's drift hits all alike.

    ner export --format onnx --model M.pt          # writes M.onnx beside it
    python bench/backends.py --model M.pt --dev DATA/valid.txt --rounds 5

In-process: `Tagger.predict` on the dev file's sentences in batches of 1, 32 and 256 (tokens/s, the
median of --rounds, every backend once per round). Whole process: a fresh `python` that imports the
backend, loads the model and tags the first --texts documents as raw text (`tag_texts`), wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads: one BLAS thread, as the others

BACKENDS = ("torch", "numpy", "onnx")
CHILD = """
import sys, time
start = time.perf_counter()
from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
docs = read_conll(sys.argv[2]).documents()[: int(sys.argv[4])]
texts = [" ".join(" ".join(s.tokens) for s in d) for d in docs]
tagger = Tagger.load(sys.argv[1], "cpu", sys.argv[3])
tagger.tag_texts(texts)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a checkpoint with its .onnx beside it")
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--texts", type=int, default=50, help="documents the whole-process run tags")
    args = parser.parse_args()
    import torch

    from ner.inference.tagger import Tagger
    from ner.text.conll import read_conll

    torch.set_num_threads(1)
    sentences = [s.tokens for s in read_conll(args.dev).sentences]
    tokens = sum(map(len, sentences))
    taggers = {name: Tagger.load(args.model, "cpu", name) for name in BACKENDS}
    rates: dict[tuple[str, int], list[float]] = {}
    walls: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for batch in (1, 32, 256):
            part = sentences if batch > 1 else sentences[:400]  # batch 1: 400 sentences a round
            count = tokens if batch > 1 else sum(map(len, part))
            for name, tagger in taggers.items():
                tagger.encoder.cache_clear()
                start = time.perf_counter()
                tagger.predict(part, batch_size=batch)
                rates.setdefault((name, batch), []).append(count / (time.perf_counter() - start))
        for name in BACKENDS:
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.model), str(args.dev), name, str(args.texts)],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            walls.setdefault(name, []).append(float(run.stdout.strip().splitlines()[-1]))
    print(f"in-process, one thread, tokens/s (median of {args.rounds}):")
    print("batch  " + "  ".join(f"{n:>10}" for n in BACKENDS))
    for batch in (1, 32, 256):
        row = [statistics.median(rates[(n, batch)]) for n in BACKENDS]
        print(f"{batch:>5}  " + "  ".join(f"{r:>10,.0f}" for r in row))
    print(f"whole process (import, load, tag {args.texts} documents as raw text), s (median):")
    print("       " + "  ".join(f"{statistics.median(walls[n]):>10.2f}" for n in BACKENDS))


if __name__ == "__main__":
    main()
