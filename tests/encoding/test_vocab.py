import pytest

from ner.encoding.vocab import UNK, Vocab, WordVocab, normalise


def test_words_are_found_as_is_then_lower_cased_then_normalised() -> None:
    vocab = WordVocab(["Paris", "paris", "berlin", "0,000.0"])
    assert vocab.items[:2] == ["<pad>", UNK]
    assert vocab.get("Paris") == vocab.index["Paris"]  # the exact form wins
    assert vocab.get("PARIS") == vocab.index["paris"]
    assert vocab.get("Berlin") == vocab.index["berlin"]
    assert vocab.get("1,234.5") == vocab.index["0,000.0"]
    assert vocab.get("Zürich") == vocab.unk == 1


def test_normalise_lower_cases_and_zeroes_every_digit() -> None:
    assert normalise("AB-12٣") == "ab-000"  # any Unicode decimal digit, as the regex's \d


def test_vocab_without_specials_raises_on_unknown_items() -> None:
    tags = Vocab(["O", "B-PER"], specials=False)
    assert tags.get("B-PER") == 1
    with pytest.raises(KeyError):
        tags.get("B-LOC")
