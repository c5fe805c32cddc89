"""What the model reads of a token: its *model form*, derived from the text as written.

Training text (CoNLL-2003) is ASCII newswire, so a model has never seen a typographic character: a
curly quote or an em dash reaches the word lookup and the character CNN as an unknown symbol and gets
swallowed into names. The model form maps what people type to what the model knows, while the token's
text and offsets stay exactly as written (``text[start:end]``). It is a transformation of the input,
applied by :class:`ner.encoding.encode.Encoder` to every model, old checkpoints included; new checkpoints
record :data:`NORMALIZATION` so that it can change later.

What maps to what (``docs/text.md`` has the table):

- quotes: ``‘ ’ ‚ ‛ ′ ‵ ‹ ›`` and the full-width ``＇`` to ``'``; ``“ ” „ ‟ ″ ‶ « »`` to ``"``;
- dashes: ``‐ ‑ ‒ – −`` to ``-``; ``— ―`` to ``--`` (CoNLL's dash); ``…`` to ``...``;
- compatibility characters (full-width forms, ligatures, super- and subscripts): NFKC;
- characters that print nothing inside a word (soft hyphen, zero-width space and joiners, word
  joiner, byte-order mark, variation selectors): removed;
- a token of symbols only that no training text has (emoji, arrows, bullets, dingbats): ``*``, a
  token CoNLL-2003 has 30 times, never in a name.
"""

from __future__ import annotations

import unicodedata

NORMALIZATION = "typographic-1"  # recorded in checkpoints; older checkpoints are read with it too
SYMBOL = "*"

_MAP = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\uff07", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d", "-"),
        **dict.fromkeys("\u2014\u2015\u2e3a\u2e3b", "--"),
        "\u2026": "...",
        **dict.fromkeys(
            "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e\u034f" + "".join(map(chr, range(0xFE00, 0xFE10))),
            None,
        ),
    }
)
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Sm", "Co", "Cn"})


def model_form(token: str) -> str:
    """The form of ``token`` that the model reads (see the module docstring); ASCII stays as it is."""
    if token.isascii():
        return token
    form = token.translate(_MAP)
    if not form.isascii():
        form = unicodedata.normalize("NFKC", form).translate(_MAP)
    if not form:
        return token  # nothing printable was left: keep what was there
    if not form.isascii() and all(_is_symbol(c) for c in form):
        return SYMBOL
    return form


def _is_symbol(char: str) -> bool:
    """A character that is no letter, digit or punctuation CoNLL has: emoji, arrows, bullets, marks
    (ASCII symbols such as ``+`` and ``=`` are left alone, as are currency signs)."""
    if char.isascii():
        return False
    return unicodedata.category(char) in _SYMBOL_CATEGORIES or char in "\u2022\u2023\u2043\u25e6\u00b7\u2027"
