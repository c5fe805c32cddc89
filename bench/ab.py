"""Tagging speed of two revisions, measured in turns, for a machine whose speed drifts.

    python bench/ab.py 4038dab HEAD --dev ../shared/data/conll2003/valid.txt --rounds 8

Each revision is checked out into a temporary git worktree and gets a worker process that loads the
bundled model (from this checkout, so both tag with the same weights) and waits for orders. The two
workers then take turns, round after round, each timing the same thing: one short sentence alone
(median of --lone-calls calls, one thread) and the whole --dev file at batch 256 with a cold token
cache (tokens/s, --threads threads). Drift between hours hits both sides alike, so the median of
the per-round ratios is the figure to read, not the medians of each side.

--model-b gives revision B a model of its own (a new recipe against today's bundled model, say), and
--documents tags the file by its -DOCSTART- documents (``predict_documents``, as ``ner evaluate`` reads
it, with whatever document context the model has) where a revision has that method.

--raw times raw text instead: ``tag_texts`` on each document written one sentence a line (bulk), and
the short sentence as a text (alone), tokenising included.

--no-network replaces the BiLSTM-CNN by emissions remembered from a first pass, to time the work
around it alone (encoding, the CRF, reading entities). A worker freezes the objects left by loading
(``gc.freeze``) when its revision's commands do so (ner/runtime.py).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["U.N.", "official", "Ekeus", "heads", "for", "Baghdad", "."]  # the README's example


def worker(model: Path, dev: Path, no_network: bool, documents: bool, raw: bool = False) -> None:
    """Serve timing orders from stdin ("lone N", "bulk THREADS"), one number per line on stdout."""
    import torch

    try:  # the layout since the layers; older revisions had flat modules
        from ner.inference.tagger import Tagger
        from ner.text.conll import read_conll
    except ImportError:
        from ner.conll import read_conll  # type: ignore[no-redef]
        from ner.tagger import Tagger  # type: ignore[no-redef]

    tagger = Tagger.load(model, "cpu")
    corpus = read_conll(dev)
    sentences = [s.tokens for s in corpus.sentences]
    tokens = sum(map(len, sentences))
    by_document = [[s.tokens for s in d] for d in corpus.documents()] if documents else None

    texts = ["\n".join(" ".join(s.tokens) for s in d) for d in corpus.documents()]  # one sentence a line

    def bulk() -> None:
        if raw:
            tagger.tag_texts(texts)
        elif by_document is not None and hasattr(tagger, "predict_documents"):
            tagger.predict_documents(by_document)
        else:
            tagger.predict(sentences)

    if no_network:
        model = getattr(tagger, "backend", tagger).model  # the PyTorch network, in either layout
        network = model.emissions
        remembered: dict[tuple[Any, ...], Any] = {}

        def emissions(batch: Any) -> Any:
            key = (tuple(batch.words.shape), int(batch.words.sum()))
            if key not in remembered:
                remembered[key] = network(batch)
            return remembered[key]

        model.emissions = emissions
    bulk()  # warm-up, and every batch's emissions remembered
    for home in ("ner.runtime", "ner.process"):  # where it lives since the layers, and before
        with contextlib.suppress(ImportError):
            __import__(home, fromlist=["freeze_loaded_objects"]).freeze_loaded_objects()
            break
    print("ready", flush=True)
    for line in sys.stdin:
        order, value = line.split()
        if order == "lone":
            torch.set_num_threads(1)
            walls = []
            for _ in range(int(value)):
                start = time.perf_counter()
                if raw:
                    tagger.tag_texts([" ".join(SHORT)])
                else:
                    tagger.predict([SHORT])
                walls.append(time.perf_counter() - start)
            print(1000 * statistics.median(walls), flush=True)
        else:
            torch.set_num_threads(int(value))
            tagger.encoder.cache_clear()
            if hasattr(tagger, "default_tokenizer"):  # a cold start for the tokenizer's words too
                tagger.default_tokenizer().cache_clear()
            start = time.perf_counter()
            bulk()
            print(tokens / (time.perf_counter() - start), flush=True)


@contextlib.contextmanager
def worktree(rev: str, into: Path) -> Iterator[Path]:
    path = into / rev.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", nargs="?", help="git revision A (a commit: uncommitted changes are not seen)")
    parser.add_argument("other", nargs="?", help="git revision B")
    parser.add_argument("--dev", type=Path, required=True, help="CoNLL file to tag")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "conll03-en.pt")
    parser.add_argument("--model-b", type=Path, default=None, help="revision B's model (default: --model)")
    parser.add_argument("--documents", action="store_true", help="tag the file by documents")
    parser.add_argument(
        "--raw", action="store_true", help="time raw text: tag_texts on each document, one sentence a line"
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--lone-calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads for the bulk timing")
    parser.add_argument("--no-network", action="store_true", help="time the work around the network alone")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.model, args.dev, args.no_network, args.documents, args.raw)
        return
    if not (args.base and args.other):
        parser.error("give two revisions")
    with (
        tempfile.TemporaryDirectory() as tmp,
        worktree(args.base, Path(tmp)) as a,
        worktree(args.other, Path(tmp)) as b,
    ):
        flags = (["--no-network"] if args.no_network else []) + (["--documents"] if args.documents else [])
        flags += ["--raw"] if args.raw else []
        models = {args.base: args.model, args.other: args.model_b or args.model}
        workers = {
            rev: subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--worker",
                    "--dev",
                    str(args.dev.resolve()),
                    "--model",
                    str(models[rev].resolve()),
                    *flags,
                ],
                cwd=tree,
                env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for rev, tree in ((args.base, a), (args.other, b))
        }
        for process in workers.values():
            assert process.stdin is not None and process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                sys.exit("a worker failed to start (see its error above)")

        def ask(rev: str, order: str) -> float:
            process = workers[rev]
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(order + "\n")
            process.stdin.flush()
            return float(process.stdout.readline())

        revs = list(workers)
        results: dict[tuple[str, str], list[float]] = {(r, k): [] for r in revs for k in ("lone", "bulk")}
        for round_ in range(args.rounds):
            order = revs if round_ % 2 == 0 else revs[::-1]  # neither side always goes first
            for kind, what in (("lone", f"lone {args.lone_calls}"), ("bulk", f"bulk {args.threads}")):
                for rev in order:
                    results[(rev, kind)].append(ask(rev, what))
        for process in workers.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    print(f"{args.rounds} rounds, {args.base} (A) and {args.other} (B) taking turns")
    for (rev, kind), values in results.items():
        unit = "ms, one sentence alone" if kind == "lone" else f"tokens/s, batch 256, {args.threads} threads"
        runs = " / ".join(f"{v:,.3g}" if kind == "lone" else f"{v:,.0f}" for v in values)
        print(f"{rev:>10} {kind}: median {statistics.median(values):,.3f} {unit} ({runs})")
    a_rev, b_rev = revs
    lone = [x / y for x, y in zip(results[(a_rev, "lone")], results[(b_rev, "lone")])]
    bulk = [y / x for x, y in zip(results[(a_rev, "bulk")], results[(b_rev, "bulk")])]
    print(
        f"B is {statistics.median(lone):.2f}x as fast alone and {statistics.median(bulk):.2f}x in bulk "
        "(medians of the per-round ratios)"
    )


if __name__ == "__main__":
    main()
