"""Entity-level precision, recall and F1 as conlleval computes them (exact span and type match)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from ner.text.tags import spans_from_tags


@dataclass(frozen=True)
class Score:
    """Counts and percentages for one entity type, or for all of them."""

    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    correct: int

    @classmethod
    def from_counts(cls, gold: int, predicted: int, correct: int) -> Score:
        p = 100.0 * correct / predicted if predicted else 0.0
        r = 100.0 * correct / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, gold, predicted, correct)


@dataclass(frozen=True)
class Report:
    """Overall micro-averaged scores and scores per entity type."""

    overall: Score
    per_type: dict[str, Score]

    def to_dict(self) -> dict[str, object]:
        return {
            "overall": asdict(self.overall),
            "per_type": {k: asdict(v) for k, v in sorted(self.per_type.items())},
        }

    def table(self) -> str:
        """A fixed-width text table, one row per type and one for all."""
        items = [*sorted(self.per_type.items()), ("overall", self.overall)]
        w = max(8, *(len(name) + 2 for name, _ in items))  # long type names ("creative-work") fit
        rows = [f"{'type':<{w}}{'P':>8}{'R':>8}{'F1':>8}{'gold':>8}{'pred':>8}"]
        for name, s in items:
            rows.append(
                f"{name:<{w}}{s.precision:>8.2f}{s.recall:>8.2f}{s.f1:>8.2f}{s.gold:>8}{s.predicted:>8}"
            )
        return "\n".join(rows)


def evaluate(gold: list[list[str]], predicted: list[list[str]]) -> Report:
    """Score ``predicted`` tag sequences against ``gold`` ones (any scheme, read as conlleval does)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    counts: dict[str, Counter[str]] = {"gold": Counter(), "predicted": Counter(), "correct": Counter()}
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        gold_spans = set(spans_from_tags(g))
        pred_spans = set(spans_from_tags(p))
        counts["gold"].update(s.label for s in gold_spans)
        counts["predicted"].update(s.label for s in pred_spans)
        counts["correct"].update(s.label for s in gold_spans & pred_spans)
    labels = set(counts["gold"]) | set(counts["predicted"])
    per_type = {
        label: Score.from_counts(counts["gold"][label], counts["predicted"][label], counts["correct"][label])
        for label in labels
    }
    overall = Score.from_counts(
        sum(counts["gold"].values()), sum(counts["predicted"].values()), sum(counts["correct"].values())
    )
    return Report(overall, per_type)
