"""From token predictions back to entities with character offsets (:mod:`ner.inference.annotate`)."""

from ner.inference.annotate import entities
from ner.text.results import Entity, Prediction
from ner.text.tokenize import Tokenizer


def _sentences(text: str) -> list:
    return Tokenizer().sentences(text)


def test_offsets_index_the_text_and_token_indices_count_over_it() -> None:
    text = "Alice met Bob. Bob lives in Paris."
    sentences = _sentences(text)
    predictions = [
        Prediction([], [Entity(0, 1, "PER", 0.91234), Entity(2, 3, "PER", 0.8)]),
        Prediction([], [Entity(3, 4, "LOC", 0.7)]),
    ]
    found = entities(text, sentences, predictions)
    assert [(e.text, e.label, e.token_start, e.token_end) for e in found] == [
        ("Alice", "PER", 0, 1),
        ("Bob", "PER", 2, 3),
        ("Paris", "LOC", 7, 8),
    ]
    assert all(text[e.start : e.end] == e.text for e in found)
    assert found[0].score == 0.9123  # rounded to four places


def test_quotes_and_dashes_are_trimmed_from_the_edges_and_a_span_of_nothing_else_dropped() -> None:
    text = "He said “ Acme ” -- again"
    sentences = _sentences(text)
    tokens = [t.text for t in sentences[0]]
    quote, close, dash = tokens.index("“"), tokens.index("”"), tokens.index("--")
    predictions = [
        Prediction([], [Entity(quote, close + 1, "ORG", 0.5), Entity(dash, dash + 1, "MISC", 0.5)])
    ]
    found = entities(text, sentences, predictions)
    assert [(e.text, e.label) for e in found] == [("Acme", "ORG")]
