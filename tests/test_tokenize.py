import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner.tokenize import Tokenizer, join_tokens

TOK = Tokenizer(max_tokens=8)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "U.N. official Ekeus heads for Baghdad.",
            ["U.N.", "official", "Ekeus", "heads", "for", "Baghdad", "."],
        ),
        ("Iraq's 1,000.5 Anglo-Dutch 1996-08-22", ["Iraq", "'s", "1,000.5", "Anglo-Dutch", "1996-08-22"]),
        (
            "Mr. Smith won 6-4 and didn't care...",
            ["Mr.", "Smith", "won", "6-4", "and", "did", "n't", "care", "..."],
        ),
        ('AT&T said: "O\'Neill (ORG)"', ["AT&T", "said", ":", '"', "O'Neill", "(", "ORG", ")", '"']),
        ("3. Smith .496 C$ 12.", ["3.", "Smith", ".496", "C$", "12", "."]),
        ("Results:\n1. Jones 2.", ["Results", ":", "1.", "Jones", "2", "."]),
    ],
)
def test_conll_style_tokens(text: str, tokens: list[str]) -> None:
    assert [t.text for t in TOK.tokenize(text)] == tokens


def test_sentences_and_chunks() -> None:
    text = "Peace talks began. They ended.\nNew line here"
    assert [[t.text for t in s] for s in TOK.sentences(text)] == [
        ["Peace", "talks", "began", "."], ["They", "ended", "."], ["New", "line", "here"]
    ]  # fmt: skip
    long = " ".join(["word"] * 20)
    assert [len(s) for s in TOK.sentences(long)] == [8, 8, 4]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=80))
def test_offsets_are_exact_for_any_unicode(text: str) -> None:
    for sentence in TOK.sentences(text):
        for token in sentence:
            assert text[token.start : token.end] == token.text
            assert token.text and not token.text.isspace()


def test_offsets_with_emoji_zwj_combining_rtl_and_crlf() -> None:
    text = "👩‍👩‍👧 Zoë\u0301 met\u200b שלום in Berlin.\r\nDone"
    for token in TOK.tokenize(text):
        assert text[token.start : token.end] == token.text


def test_join_tokens() -> None:
    text, tokens = join_tokens(["EU", "rejects", "German"])
    assert text == "EU rejects German"
    assert [(t.start, t.end) for t in tokens] == [(0, 2), (3, 10), (11, 17)]
