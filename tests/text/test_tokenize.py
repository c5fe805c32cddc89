import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ner.text.tokenize
from ner.text.tokenize import _PATTERN, Token, Tokenizer, join_tokens

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


# every character that is a space to Rust or to Python, and a few that are neither
_SPACES = "\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2005\u200a\u200b" + (
    "\u2028\u2029\u202f\u205f\u3000"
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=12)
        | st.sampled_from([*_SPACES, "U.S.", "1,000.5", "Iraq's", "don't", "3.", ".496", "C$"]),
        max_size=12,
    )
)
@example(["x\x1c.5 and U.S\x1d. don\x1e't"])  # Python-only spaces inside words: not word breaks
@example(["a\u2003.496\xa0Iraq's\u3000I\x85.B.M."])  # Rust's spaces: word breaks
def test_words_split_once_give_what_the_whole_text_split_gives(parts: list[str]) -> None:
    """Remembering each word's pieces is the same as running the pre-tokenizer over the text."""
    from tokenizers import Regex, pre_tokenizers

    text = "".join(parts)
    whole = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_PATTERN), behavior="isolated")]
    )
    pieces = [Token(p, start, end) for p, (start, end) in whole.pre_tokenize_str(text) if not p.isspace()]
    want = ner.text.tokenize._merge_list_numbers(text, pieces)
    tokenizer = Tokenizer()
    for _ in range(2):  # split, then from memory (tokenize itself also reads past hidden characters)
        assert tokenizer._tokenize(text) == want


def test_remembered_words_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner.text.tokenize, "CACHE_WORDS", 3)
    tokenizer = Tokenizer()
    text = "one two three four five two"
    first = tokenizer.tokenize(text)
    assert len(tokenizer._pieces) <= 3
    assert tokenizer.tokenize(text) == first == Tokenizer().tokenize(text)


def test_offsets_with_emoji_zwj_combining_rtl_and_crlf() -> None:
    text = "👩‍👩‍👧 Zoë\u0301 met\u200b שלום in Berlin.\r\nDone"
    for token in TOK.tokenize(text):
        assert text[token.start : token.end] == token.text


def test_join_tokens() -> None:
    text, tokens = join_tokens(["EU", "rejects", "German"])
    assert text == "EU rejects German"
    assert [(t.start, t.end) for t in tokens] == [(0, 2), (3, 10), (11, 17)]


def test_social_style_keeps_handles_tags_urls_and_emoji_whole() -> None:
    text = "@jenny loved #NoWayHome 😀👍🏽 🇬🇧 see https://t.co/ab.c. or a.b@x.org :) U.S. don't"
    social = Tokenizer(style="social").tokenize(text)
    assert [t.text for t in social] == [
        "@jenny", "loved", "#NoWayHome", "😀", "👍🏽", "🇬🇧", "see", "https://t.co/ab.c", ".", "or",
        "a.b@x.org", ":)", "U.S.", "do", "n't",
    ]  # fmt: skip
    assert all(text[t.start : t.end] == t.text for t in social)
    conll = [t.text for t in Tokenizer().tokenize("@jenny #NoWayHome")]
    assert conll == ["@", "jenny", "#", "NoWayHome"]  # newswire rules, as before
    spaced = Tokenizer(style="whitespace").tokenize("Hi  there, @you!\tok")
    assert [(t.text, t.start) for t in spaced] == [("Hi", 0), ("there,", 4), ("@you!", 11), ("ok", 17)]
    with pytest.raises(ValueError, match="unknown tokenizer style 'tweets'"):
        Tokenizer(style="tweets")


def test_the_word_cache_is_bounded_in_bytes_whatever_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long unique words (each thousands of pieces) are never remembered, and the pieces remembered
    in all stay under CACHE_PIECES: memory cannot grow with what is sent."""
    import ner.text.tokenize as tokenize

    monkeypatch.setattr(tokenize, "CACHE_PIECES", 50)
    tokenizer = Tokenizer()
    for i in range(20):
        tokenizer.tokenize(f"q{i}," + ",".join("a" * 2000))  # one word, 4,000 pieces
    assert tokenizer._pieces == {}
    for i in range(200):
        tokenizer.tokenize(f"w{i},x,y")  # short words of 5 pieces
        assert tokenizer._cached_pieces <= 55
    assert tokenizer.tokenize("w199,x,y") == tokenizer.tokenize("w199,x,y")  # cached or not, the same


def test_a_word_hyphenated_across_a_line_end_is_one_token_spanning_both_parts() -> None:
    text = "They beat Ger-\nmany and the Anglo-\r\nDutch side."
    tokens = Tokenizer().tokenize(text)
    assert [(t.text, t.word) for t in tokens[:4]] == [
        ("They", "They"),
        ("beat", "beat"),
        ("Ger-\nmany", "Germany"),
        ("and", "and"),
    ]
    assert tokens[5].word == "Anglo-Dutch" and tokens[5].text == "Anglo-\r\nDutch"
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_hidden_characters_inside_a_word_are_read_past() -> None:
    text = "Ber\u200blin and Mos\u00adcow\ufeff."
    tokens = Tokenizer().tokenize(text)
    assert [t.word for t in tokens] == ["Berlin", "and", "Moscow", "."]
    assert all(text[t.start : t.end] == t.text for t in tokens)


WRAPPED = (
    "The minister said on Tuesday that talks with Germany and France would\n"
    "resume in Brussels next week, and that the European Commission would\n"
    "send a delegation to the talks as soon as the member states agreed on\n"
    "the terms of reference.\n"
    "\n"
    "BRUSSELS 1996-08-30\n"
    "- first item\n"
    "- second item\n"
)


def test_a_wrapped_line_continues_its_sentence_and_blank_lines_datelines_and_items_end_one() -> None:
    sentences = [" ".join(t.text for t in s) for s in Tokenizer().sentences(WRAPPED)]
    assert sentences[0].startswith("The minister") and sentences[0].endswith("terms of reference .")
    assert sentences[1:] == ["BRUSSELS 1996-08-30", "- first item", "- second item"]
    crlf = WRAPPED.replace("\n", "\r\n")
    assert [len(s) for s in Tokenizer().sentences(crlf)] == [len(s) for s in Tokenizer().sentences(WRAPPED)]


def test_one_sentence_a_line_keeps_every_line_break() -> None:
    text = (
        "SOCCER - JAPAN GET LUCKY WIN .\nAL-AIN , United Arab Emirates 1996-12-06\nJapan began the defence ."
    )
    assert [len(s) for s in Tokenizer().sentences(text)] == [7, 6, 5]


def test_typographic_sentence_ends_and_closers() -> None:
    text = "He said \u201cno\u2026\u201d Then he left."
    sentences = Tokenizer().sentences(text)
    assert [t.text for t in sentences[0]][-2:] == ["\u2026", "\u201d"] and len(sentences) == 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\x85"])
def test_every_kind_of_line_break_ends_a_line_and_wraps_alike(newline: str) -> None:
    lines = Tokenizer().sentences(WRAPPED.replace("\n", newline))
    assert [len(s) for s in lines] == [len(s) for s in Tokenizer().sentences(WRAPPED)]
    short = f"Alice Walker{newline}Paris{newline}Bob Stone"
    assert [[t.text for t in s] for s in Tokenizer().sentences(short)] == [
        ["Alice", "Walker"],
        ["Paris"],
        ["Bob", "Stone"],
    ]
