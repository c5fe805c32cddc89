import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner.text.tags import (
    SchemeError,
    Span,
    allowed_transitions,
    check_scheme,
    convert,
    detect_scheme,
    spans_from_tags,
    tags_from_spans,
)


def test_bio_to_spans() -> None:
    assert spans_from_tags(["B-PER", "I-PER", "O"]) == [Span(0, 2, "PER")]


def test_iobes_to_spans() -> None:
    tags = ["S-LOC", "B-PER", "I-PER", "E-PER", "O", "S-ORG"]
    assert spans_from_tags(tags) == [Span(0, 1, "LOC"), Span(1, 4, "PER"), Span(5, 6, "ORG")]


def test_iob1_adjacent_entities_of_one_type() -> None:
    tags = ["I-PER", "I-PER", "B-PER", "O"]
    assert spans_from_tags(tags) == [Span(0, 2, "PER"), Span(2, 3, "PER")]
    assert tags_from_spans(spans_from_tags(tags), 4, "iob1") == tags


def test_literal_conversions() -> None:
    assert convert(["B-PER", "I-PER", "O", "B-LOC"], "iobes") == ["B-PER", "E-PER", "O", "S-LOC"]
    assert convert(["B-PER", "E-PER", "S-PER"], "iob2") == ["B-PER", "I-PER", "B-PER"]
    assert convert(["B-PER", "I-PER", "B-LOC"], "iob1") == ["I-PER", "I-PER", "I-LOC"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # conlleval: an I- after O or after another type opens an entity
        (["O", "I-PER", "I-PER"], [Span(1, 3, "PER")]),
        (["B-PER", "I-LOC"], [Span(0, 1, "PER"), Span(1, 2, "LOC")]),
        # an E- with nothing open is an entity of its own; B- closes an open entity
        (["E-ORG", "O"], [Span(0, 1, "ORG")]),
        (["B-ORG", "B-ORG", "I-ORG"], [Span(0, 1, "ORG"), Span(1, 3, "ORG")]),
        # an entity left open at the end still counts
        (["O", "B-MISC"], [Span(1, 2, "MISC")]),
    ],
)
def test_ill_formed_sequences_read_as_conlleval(tags: list[str], expected: list[Span]) -> None:
    assert spans_from_tags(tags) == expected


def test_detect_scheme() -> None:
    assert detect_scheme([["B-PER", "I-PER", "O"]]) == "iob2"
    assert detect_scheme([["I-PER", "B-PER", "O"]]) == "iob1"
    assert detect_scheme([["O", "S-LOC"]]) == "iobes"


def test_check_scheme_rejects_broken_iob2() -> None:
    with pytest.raises(SchemeError) as info:
        check_scheme(["O", "I-PER"], "iob2")
    assert info.value.position == 1
    with pytest.raises(SchemeError, match="unknown tag"):
        check_scheme(["O", "X-PER"], "iob2")


@st.composite
def span_lists(draw: st.DrawFn) -> tuple[list[Span], int]:
    length = draw(st.integers(0, 12))
    spans, position = [], 0
    while position < length:
        position += draw(st.integers(0, 2))
        size = draw(st.integers(1, 3))
        if position + size > length:
            break
        spans.append(Span(position, position + size, draw(st.sampled_from(["PER", "LOC", "ORG"]))))
        position += size
    return spans, length


@given(span_lists(), st.sampled_from(["iob1", "iob2", "iobes"]))
def test_spans_round_trip_through_every_scheme(case: tuple[list[Span], int], scheme: str) -> None:
    spans, length = case
    tags = tags_from_spans(spans, length, scheme)  # type: ignore[arg-type]
    assert spans_from_tags(tags) == spans
    check_scheme(tags, scheme)  # type: ignore[arg-type]
    for other in ("iob1", "iob2", "iobes"):
        assert spans_from_tags(convert(tags, other)) == spans  # type: ignore[arg-type]


@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "I-LOC", "B-LOC"]), max_size=10))
def test_conversion_keeps_the_spans_of_any_sequence(tags: list[str]) -> None:
    spans = spans_from_tags(tags)
    assert spans_from_tags(convert(tags, "iobes")) == spans
    assert spans_from_tags(convert(tags, "iob2")) == spans


@given(span_lists())
def test_well_formed_iobes_uses_allowed_transitions_only(case: tuple[list[Span], int]) -> None:
    labels = ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "S-ORG"]
    labels += ["B-PER", "I-PER", "E-PER", "S-PER"]
    allowed = set(allowed_transitions(labels, "iobes"))
    spans, length = case
    path = [len(labels)] + [labels.index(t) for t in tags_from_spans(spans, length, "iobes")]
    path.append(len(labels) + 1)
    if length:
        assert all((a, b) in allowed for a, b in itertools.pairwise(path))
    assert (len(labels), labels.index("I-PER")) not in allowed
    assert (labels.index("B-PER"), labels.index("E-LOC")) not in allowed
