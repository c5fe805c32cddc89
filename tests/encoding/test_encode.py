"""Tokens to padded index arrays (:mod:`ner.encoding.encode`)."""

import torch

from ner.encoding.batch import Batch, collate
from ner.encoding.encode import Encoder, casing
from ner.encoding.vocab import Vocab, WordVocab


def small_encoder() -> Encoder:
    return Encoder(
        WordVocab(["paris", "is", "nice", "0000"]), Vocab(list("Parisnce")), Vocab(["O"], specials=False)
    )


def test_casing_classes() -> None:
    got = [casing(t) for t in ["1996", "12-3", "paris", "USA", "Paris", "A4", "-", "ab1cd"]]
    assert got == [1, 2, 3, 4, 5, 4, 7, 3]


def test_fast_batch_equals_collate_of_encodings() -> None:
    enc = small_encoder()
    sentences = [["Paris", "is", "nice", "Paris"], ["1996", "Zürich", "x" * 40], ["is"]]
    fast = Batch.of(enc.arrays(sentences))
    slow = collate([enc.encode(s) for s in sentences])
    for name in ("words", "casing", "mask", "lengths"):
        assert torch.equal(getattr(fast, name), getattr(slow, name)), name
    assert fast.tags is None
    # the rows differ (one per distinct token vs per distinct spelling) but spell the same characters
    fast_spelled = fast.chars[fast.char_index]  # (batch, seq, width)
    slow_spelled = slow.chars[slow.char_index]
    width = min(fast_spelled.shape[2], slow_spelled.shape[2])
    assert torch.equal(fast_spelled[..., :width], slow_spelled[..., :width])
    assert not fast_spelled[..., width:].any() and not slow_spelled[..., width:].any()
    assert fast.chars.shape[0] == 1 + 6  # padding + six distinct tokens


def test_remembered_encodings_are_bounded_and_change_nothing(monkeypatch) -> None:
    import ner.encoding.encode

    monkeypatch.setattr(ner.encoding.encode, "CACHE_TOKENS", 3)
    enc = small_encoder()
    sentences = [["Paris", "is", "nice"], ["1996", "Zürich", "is", "Paris"]]
    first = Batch.of(enc.arrays(sentences))
    assert len(enc._known) <= 3
    again = Batch.of(enc.arrays(sentences))
    enc.cache_clear()
    cold = Batch.of(enc.arrays(sentences))
    for other in (again, cold):
        for name in ("words", "chars", "char_index", "casing", "mask", "lengths"):
            assert torch.equal(getattr(first, name), getattr(other, name)), name
