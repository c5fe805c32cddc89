"""The text pipeline every entry point shares (:mod:`ner.inference.pipeline`)."""

import json

import pytest

from ner.inference.pipeline import TooManyTokens, entities_of, prepare_texts, prepare_token_lists, render
from ner.inference.tagger import Tagger
from ner.text.tokenize import Tokenizer

TEXTS = ["Alice Walker visited Paris. Bob Stone stayed.", "Acme Corp hired Carol."]


def test_texts_become_documents_and_entities_index_each_text(tagger: Tagger) -> None:
    prepared = prepare_texts(tagger, Tokenizer(), TEXTS)
    assert prepared.texts == TEXTS and prepared.tokens == 14
    assert [len(s) for s in prepared.split] == [2, 1]  # two sentences, then one
    found = entities_of(prepared, tagger.predict(prepared.plan.units, groups=prepared.plan.groups))
    assert found == tagger.tag_texts(TEXTS)  # the Tagger's own entry point is this pipeline
    for text, entities in zip(TEXTS, found):
        assert all(text[e.start : e.end] == e.text for e in entities)


def test_tokenising_stops_past_the_limit(tagger: Tagger) -> None:
    with pytest.raises(TooManyTokens) as caught:
        prepare_texts(tagger, Tokenizer(), TEXTS * 10, max_tokens=20)
    assert (
        caught.value.limit == 20 and 20 < caught.value.tokens <= 20 + 9
    )  # stopped at the first text past it


def test_token_lists_alone_or_as_one_document_and_the_rendered_answer(tagger: Tagger) -> None:
    lists = [["Alice", "Walker", "visited", "Paris", "."], ["Bob", "Stone", "."]]
    alone = prepare_token_lists(tagger, lists, sentence_tokens=128)
    one = prepare_token_lists(tagger, lists, sentence_tokens=128, document=True)
    assert len(alone.plan.sizes) == 2 and len(one.plan.sizes) == 1
    cut = prepare_token_lists(tagger, [lists[0] * 3], sentence_tokens=4)
    assert [len(s) for s in cut.split[0]] == [4, 4, 4, 3]
    read = tagger.predict(alone.plan.units, groups=alone.plan.groups)
    body = json.loads(render(alone, read, "tiny", return_tokens=True))
    assert body["model"] == "tiny" and len(body["results"]) == 2
    first = body["results"][0]
    assert [t["text"] for t in first["tokens"]] == lists[0]
    assert [(e["text"], e["label"]) for e in first["entities"]] == [("Alice Walker", "PER"), ("Paris", "LOC")]
