"""What a checkpoint gets wrong on a CoNLL file read by documents, by kind of error; and what a
document-level vote on entity types would change.

    python bench/errors.py --data valid.txt --model runs/bio-s1.pt [--model ...] [--examples 20] [--vote]

Each gold entity the model misses and each predicted entity that is not gold is counted once, as
conlleval counts them: "type" (same tokens, other type), "boundary" (overlaps an entity of the other
side, other tokens), "missed" (a gold entity nothing overlaps) or "spurious" (a predicted entity
nothing overlaps). Then the type confusions (gold -> predicted, same tokens), and ``--examples`` gold
entities with boundary errors, with what was predicted over them and a few words around.

``--vote`` tries a tagging-time rule, label consistency (Krishnan and Manning 2006, in its simplest
form): within a document, every mention of the same (lower-cased) string takes the type with the most
probability summed over its mentions ("sum") or the single most probable mention's type ("max"). No
timing: this prints counts and F1 only.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reading_f1 import BUNDLED, add_model_option

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.evaluate import evaluate
from ner.text.results import Prediction
from ner.text.tags import Span, spans_from_tags, tags_from_spans


def overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def kind(span: Span, other: list[Span]) -> str:
    """How ``span`` (of one side) fails to match ``other`` (the other side's entities)."""
    if any((s.start, s.end) == (span.start, span.end) for s in other):
        return "type"
    if any(overlaps(s, span) for s in other):
        return "boundary"
    return "absent"


def voted(words: list[list[str]], predictions: list[Prediction], mode: str) -> list[list[str]]:
    """IOB2 tags of one document's ``predictions`` after the label vote (see the module's doc)."""
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sentence, p in zip(words, predictions):
        for e in p.entities:
            key = " ".join(sentence[e.start : e.end]).lower()
            if mode == "sum":
                votes[key][e.label] += e.score
            else:
                votes[key][e.label] = max(votes[key][e.label], e.score)
    out = []
    for sentence, p in zip(words, predictions):
        spans = []
        for e in p.entities:
            ballot = votes[" ".join(sentence[e.start : e.end]).lower()]
            label = max(ballot, key=ballot.__getitem__)
            spans.append(Span(e.start, e.end, label))
        out.append(tags_from_spans(spans, len(sentence), "iob2"))
    return out


def changed(predictions: list[Prediction], tags: list[list[str]]) -> int:
    """Entities whose type the vote changed."""
    before = {(i, e.start, e.end, e.label) for i, p in enumerate(predictions) for e in p.entities}
    after = {(i, s.start, s.end, s.label) for i, t in enumerate(tags) for s in spans_from_tags(t)}
    return len(before - after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="CoNLL file with gold tags and -DOCSTART- lines")
    add_model_option(parser)
    parser.add_argument("--examples", type=int, default=0, help="boundary errors to show (default: none)")
    parser.add_argument("--vote", action="store_true", help="also score the document-level label vote")
    args = parser.parse_args()
    documents = read_conll(args.data).documents()
    words = [[s.tokens for s in d] for d in documents]
    gold = [list(s.tags) for d in documents for s in d]
    for path in args.model or [BUNDLED]:
        by_document = Tagger.load(path, device="cpu").predict_documents(words)
        predicted = [p for d in by_document for p in d]
        flat = [s for d in words for s in d]
        kinds: Counter[str] = Counter()
        confusions: Counter[str] = Counter()
        boundary = []
        for sentence, tags, p in zip(flat, gold, predicted):
            g, q = set(spans_from_tags(tags)), {Span(e.start, e.end, e.label) for e in p.entities}
            missed, extra = sorted(g - q), sorted(q - g)
            for span in missed:  # each type error once, from the gold side
                k = kind(span, extra)
                kinds[{"absent": "missed", "boundary": "boundary (gold)"}.get(k, k)] += 1
                if k == "boundary":
                    boundary.append((sentence, span, [s for s in extra if overlaps(s, span)]))
                elif k == "type":
                    label = next(s.label for s in extra if (s.start, s.end) == (span.start, span.end))
                    confusions[f"{span.label} -> {label}"] += 1
            for span in extra:
                k = kind(span, missed)
                if k != "type":
                    kinds["spurious" if k == "absent" else "boundary (predicted)"] += 1
        report = evaluate(gold, [p.tags for p in predicted])
        print(f"{path}: F1 {report.overall.f1:.2f} by documents")
        print("  errors: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
        print("  type confusions: " + ", ".join(f"{k} {n}" for k, n in confusions.most_common()))
        for sentence, span, over in random.Random(0).sample(boundary, min(args.examples, len(boundary))):
            said = "; ".join(f"{' '.join(sentence[s.start : s.end])} [{s.label}]" for s in over)
            around = " ".join(sentence[max(0, span.start - 4) : span.end + 4])
            name = " ".join(sentence[span.start : span.end])
            print(f"    {name} [{span.label}]  predicted {said}  | {around}")
        if args.vote:
            for mode in ("sum", "max"):
                retagged = [t for d, ps in zip(words, by_document) for t in voted(d, ps, mode)]
                f1 = evaluate(gold, retagged).overall.f1
                print(f"  label vote ({mode}): F1 {f1:.2f}, {changed(predicted, retagged)} entities retyped")


if __name__ == "__main__":
    main()
