import pytest

from ner.text.normalize import SYMBOL, model_form


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Paris", "Paris"),  # ASCII as it is
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u00ab", '"'),
        ("\u00bb", '"'),
        ("\u2018", "'"),
        ("\u2019s", "'s"),
        ("O\u2019Neill", "O'Neill"),
        ("n\u2019t", "n't"),
        ("\u2014", "--"),
        ("\u2013", "-"),
        ("1996\u201397", "1996-97"),
        ("\u2026", "..."),
        ("\u2032", "'"),
        ("\uff29\uff22\uff2d", "IBM"),  # full-width
        ("\ufb01nance", "finance"),  # a ligature
        ("Ger\u00admany", "Germany"),  # a soft hyphen
        ("Ber\u200blin", "Berlin"),  # a zero-width space
        ("\U0001f600", SYMBOL),
        ("\U0001f44d\U0001f3fd", SYMBOL),  # with a skin tone
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", SYMBOL),  # a ZWJ family
        ("\u2192", SYMBOL),  # an arrow
        ("\u2022", SYMBOL),  # a bullet
        ("\u20ac", "\u20ac"),  # a currency sign stays
        ("Z\u00fcrich", "Z\u00fcrich"),  # letters stay
        ("\u00e9", "\u00e9"),
        ("\u200b", "\u200b"),  # nothing printable left: kept as it was
    ],
)
def test_model_forms(written: str, read: str) -> None:
    assert model_form(written) == read


def test_every_model_form_of_ascii_is_the_token_itself() -> None:
    for token in ["U.S.", "--", '"', "'s", "1,000.5", "*", "AT&T"]:
        assert model_form(token) is token
