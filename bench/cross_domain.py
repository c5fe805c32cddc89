"""F1 of CoNLL-2003 models on another domain: the person and location names of WNUT-17 (social media).

    python bench/cross_domain.py --data ../shared/data/wnut17/dev.txt [--model M ...]

WNUT-17 marks six types; two of them mean what CoNLL's PER and LOC mean (``person``, ``location``).
Gold entities of the other four are taken out, and so are the model's ORG and MISC, so this scores
only PER and LOC: text that no CoNLL-2003 model has seen, from another domain. ``--types PER,LOC,ORG``
also scores WNUT's ``corporation`` against the model's ORG (a narrower type: a sports club or a
government body is ORG in CoNLL, ``group`` in WNUT, so ORG precision reads low). The posts are
unrelated, so each is tagged alone. No timing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reading_f1 import BUNDLED, add_model_option

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.evaluate import evaluate

NAMES = {"person": "PER", "location": "LOC", "corporation": "ORG"}  # WNUT-17's types that mean CoNLL's


def only_kept(tags: list[str], kept: frozenset[str] = frozenset({"PER", "LOC"})) -> list[str]:
    """IOB tags with every type but those ``kept`` (CoNLL's names) set to O, WNUT's renamed."""
    out = []
    for tag in tags:
        prefix, _, label = tag.partition("-")
        label = NAMES.get(label, label)
        out.append(f"{prefix}-{label}" if label in kept else "O")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="WNUT-17 file (two tab-separated columns)")
    add_model_option(parser)
    parser.add_argument(
        "--types", default="PER,LOC",
        help="CoNLL types to score (default PER,LOC; ORG scores WNUT's corporation, narrower than ORG)",
    )  # fmt: skip
    args = parser.parse_args()
    kept = frozenset(args.types.split(","))
    corpus = read_conll(args.data)
    gold = [only_kept(s.tags, kept) for s in corpus.sentences]
    print(f"{args.data}: {len(gold)} posts")
    for path in args.model or [BUNDLED]:
        tagger = Tagger.load(path, device="cpu")
        predicted = [only_kept(tags, kept) for tags in tagger.tag([s.tokens for s in corpus.sentences])]
        report = evaluate(gold, predicted)
        scores = sorted(report.per_type.items())
        types = "  ".join(f"{t} P {s.precision:.2f} R {s.recall:.2f} F1 {s.f1:.2f}" for t, s in scores)
        print(f"{path}\n  {'+'.join(sorted(kept))} F1 {report.overall.f1:.2f}  ({types})")


if __name__ == "__main__":
    main()
