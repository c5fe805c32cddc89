"""Entity F1 of checkpoints on a CoNLL file read two ways: by documents, and each sentence alone.

    python bench/reading_f1.py --data valid.txt --model models/conll03-en.pt [--model runs/other.pt ...]

"by documents" is how ``ner evaluate`` reads a file with ``-DOCSTART-`` blocks (a model with document
context or memory sees each sentence's document); "each alone" is how a lone sentence or a ``tokens``
request without ``"document": true`` is read. A model without context or memory scores the same both
ways. No timing: this only prints F1 overall and per type.

``--recase lower`` (or ``upper``) changes every token's case before tagging, tags kept: how the model
does on text written without capitals (or all in capitals).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.evaluate import Report, evaluate

BUNDLED = str(Path(__file__).resolve().parent.parent / "models" / "conll03-en.pt")


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``, repeatable; the scripts fall back on the bundled model when it is not given."""
    parser.add_argument("--model", action="append", help="checkpoint (repeatable; default: the bundled one)")


def row(name: str, report: Report) -> str:
    types = " ".join(f"{t} {s.f1:.2f}" for t, s in sorted(report.per_type.items()))
    return f"{name:<14} F1 {report.overall.f1:.2f}  ({types})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="CoNLL file with gold tags")
    add_model_option(parser)
    parser.add_argument("--recase", choices=["lower", "upper"], help="tag the tokens in this case")
    args = parser.parse_args()
    corpus = read_conll(args.data)
    if args.recase:
        recase = str.lower if args.recase == "lower" else str.upper
        for sentence in corpus.sentences:
            sentence.tokens[:] = [recase(t) for t in sentence.tokens]
    gold = [s.tags for s in corpus.sentences]
    documents = [[s.tokens for s in d] for d in corpus.documents()]
    recased = f", every token in {args.recase} case" if args.recase else ""
    print(f"{args.data}: {len(documents)} documents, {len(gold)} sentences{recased}")
    for path in args.model or [BUNDLED]:
        tagger = Tagger.load(path, device="cpu")
        by_documents = [tags for d in tagger.tag_documents(documents) for tags in d]
        alone = tagger.tag([s.tokens for s in corpus.sentences])
        print(path)
        print(row("  by documents", evaluate(gold, by_documents)))
        print(row("  each alone", evaluate(gold, alone)))


if __name__ == "__main__":
    main()
