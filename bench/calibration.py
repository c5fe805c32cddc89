"""Reliability of entity scores on a CoNLL file: of the entities scored in each band, how many are right.

    python bench/calibration.py --model models/conll03-en.pt --data $NER_DATA/valid.txt

An entity is right when a gold entity has the same tokens and label (conlleval's exact match). A
model with document context or memory reads whole documents, and the halves are then halves of the
documents, as ``ner calibrate`` takes them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.tags import spans_from_tags

BANDS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.0001)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/conll03-en.pt"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument(
        "--half", choices=("even", "odd", "all"), default="odd",
        help="sentences (documents, for a model that reads them) to score; ner calibrate fits the even ones",
    )  # fmt: skip
    args = parser.parse_args()
    tagger = Tagger.load(args.model, "cpu")
    data = read_conll(args.data)
    if tagger.context > 0 or tagger.memory > 0:
        documents = data.documents()
        picked = documents if args.half == "all" else documents[args.half == "odd" :: 2]
        chosen = [s for d in picked for s in d]
        read = tagger.predict_documents([[s.tokens for s in d] for d in picked])
        predictions = [p for d in read for p in d]
        what = f"{len(picked)} documents, {len(chosen)} sentences"
    else:
        chosen = data.sentences if args.half == "all" else data.sentences[args.half == "odd" :: 2]
        predictions = tagger.predict([s.tokens for s in chosen])
        what = f"{len(chosen)} sentences"
    print(f"temperature {tagger.temperature:.2f}; {what} ({args.half})\n")
    scored = []
    for sentence, prediction in zip(chosen, predictions):
        gold = {(s.start, s.end, s.label) for s in spans_from_tags(sentence.tags)}
        scored += [(e.score, (e.start, e.end, e.label) in gold) for e in prediction.entities]
    print("| score band | entities | right | mean score |")
    print("| --- | --- | --- | --- |")
    for low, high in BANDS:
        band = [(s, ok) for s, ok in scored if low <= s < high]
        if band:
            right = 100 * sum(ok for _, ok in band) / len(band)
            mean = 100 * sum(s for s, _ in band) / len(band)
            print(f"| {low:.2f}-{min(high, 1):.2f} | {len(band)} | {right:.1f}% | {mean:.1f}% |")
    ece = 0.0
    for low, high in BANDS:
        band = [(s, ok) for s, ok in scored if low <= s < high]
        if band:
            ece += abs(sum(ok for _, ok in band) - sum(s for s, _ in band)) / len(scored)
    print(f"\n{len(scored)} predicted entities; expected calibration error {100 * ece:.2f} points")


if __name__ == "__main__":
    main()
