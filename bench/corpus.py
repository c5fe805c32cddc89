"""Bulk raw-text tagging, whole process, beside spaCy's peer on the same texts, in turns.

    python bench/corpus.py --data $NER_DATA/valid.txt --spacy-python /tmp/spacy-venv/bin/python \
        --spacy-model ../shared/peers/spacy-cnn-conll03 --rounds 5

Each sentence of the CoNLL file is written back as plain text (``tokenizer_check.detokenise``), one
JSON Lines record per sentence, and the whole corpus is tagged by separate processes, timed from
start to exit (imports and model loading included): ``ner tag`` at 1 and 2 workers with the default
backend (and with ``--backend torch``), and spaCy's ``nlp.pipe(texts)`` with its own tokenizer, one
process on one thread and ``n_process=2`` (``bench/spacy_texts.py``, run by the spaCy venv's Python).
The commands take turns, round after round, and each figure is the median over the rounds, since this
machine's speed drifts. ``--memory`` also runs ``ner tag`` on one worker over the corpus and over it
repeated ``--scale`` times, and reports each run's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tokenizer_check import detokenise

from ner.text.conll import read_conll


def write_corpus(data: Path, path: Path, repeat: int = 1) -> int:
    """The sentences of ``data`` as JSON Lines texts (``repeat`` times over); returns the gold tokens."""
    sentences = read_conll(data).sentences
    with path.open("w", encoding="utf-8") as f:
        for r in range(repeat):
            for i, s in enumerate(sentences):
                f.write(json.dumps({"id": r * len(sentences) + i, "text": detokenise(s.tokens)[0]}) + "\n")
    return repeat * sum(len(s.tokens) for s in sentences)


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process (its own RSS, not its children's)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="a CoNLL file (valid.txt)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    parser.add_argument("--spacy-python", default=None, help="the Python of a venv with spaCy 3.8")
    parser.add_argument("--spacy-model", default="../shared/peers/spacy-cnn-conll03")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also peak RSS at 1x and --scale x")
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()

    ner = [sys.executable, "-m", "ner.cli", "tag"] + (["--model", args.model] if args.model else [])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "texts.jsonl"
        tokens = write_corpus(args.data, corpus)
        out = str(Path(tmp) / "out.jsonl")
        commands = {
            "ner tag, 1 worker": [*ner, "--input", str(corpus), "--output", out, "--force", "--workers", "1"],
            "ner tag, 2 workers (default)": [*ner, "--input", str(corpus), "--output", out, "--force"],
            "ner tag --backend torch, 2 workers": [
                *ner, "--input", str(corpus), "--output", out, "--force", "--backend", "torch",
            ],
        }  # fmt: skip
        if args.spacy_python:
            peer = [
                args.spacy_python,
                str(Path(__file__).parent / "spacy_texts.py"),
                args.spacy_model,
                str(corpus),
            ]
            commands["spaCy nlp.pipe, 1 process, 1 thread"] = [*peer, "1"]
            commands["spaCy nlp.pipe, n_process=2"] = [*peer, "2"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        for r in range(args.rounds):
            for name, command in commands.items():
                times[name].append(run(command)[0])
            print(f"round {r + 1}: " + ", ".join(f"{t[-1]:.2f}" for t in times.values()), file=sys.stderr)
        print(f"{corpus.stat().st_size / 1e6:.1f} MB, {tokens:,} gold tokens, {args.rounds} rounds in turns")
        base = statistics.median(times.get("spaCy nlp.pipe, 1 process, 1 thread", [float("nan")]))
        print("| command | seconds, median (all) | tokens/s | vs spaCy, 1 thread |")
        print("| --- | --- | --- | --- |")
        for name, seconds in times.items():
            median = statistics.median(seconds)
            runs = " / ".join(f"{s:.2f}" for s in seconds)
            print(f"| {name} | {median:.2f} ({runs}) | {tokens / median:,.0f} | {base / median:.2f}x |")
        if args.memory:
            big = Path(tmp) / "big.jsonl"
            write_corpus(args.data, big, args.scale)
            for label, path in (("1x", corpus), (f"{args.scale}x", big)):
                command = [*ner, "--input", str(path), "--output", out, "--force", "--workers", "1"]
                seconds, rss = run(command)
                size = path.stat().st_size / 1e6
                print(f"memory, {label} ({size:.1f} MB): peak RSS {rss:.0f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    main()
