import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from ner.text.evaluate import evaluate

TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-ORG"]


@st.composite
def paired(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    lengths = draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    gold = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@settings(max_examples=300, deadline=None)
@given(paired())
def test_equals_seqeval_on_random_sequences(case: tuple[list[list[str]], list[list[str]]]) -> None:
    gold, pred = case
    report = evaluate(gold, pred)
    assert report.overall.precision == pytest.approx(
        100 * precision_score(gold, pred, zero_division=0), abs=1e-9
    )
    assert report.overall.recall == pytest.approx(100 * recall_score(gold, pred, zero_division=0), abs=1e-9)
    assert report.overall.f1 == pytest.approx(100 * f1_score(gold, pred, zero_division=0), abs=1e-9)
    theirs = classification_report(gold, pred, output_dict=True, zero_division=0)
    for label, score in report.per_type.items():
        if score.gold:
            assert score.f1 == pytest.approx(100 * theirs[label]["f1-score"], abs=1e-9)
            assert score.gold == theirs[label]["support"]


def test_literal_scores() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    report = evaluate(gold, pred)
    assert (report.overall.precision, report.overall.recall, report.overall.f1) == (50.0, 50.0, 50.0)
    assert report.per_type["PER"].f1 == 100.0
    assert report.per_type["LOC"].recall == 0.0
    assert report.per_type["ORG"].precision == 0.0
    assert "overall" in report.table()


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="sentence 0"):
        evaluate([["O"]], [["O", "O"]])
