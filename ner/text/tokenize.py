"""Raw text to tokens with exact character offsets, split into sentences.

Three styles, one per kind of training data; a model records the one it was trained for
(``ner train --tokenizer``) and the service and ``ner tag`` use it:

- ``conll`` (the default, and what checkpoints that record none get): CoNLL-2003's Reuters conventions.
- ``social``: the same, but ``@user``, ``#hashtag``, URLs, e-mail addresses, emoji (with their
  modifiers, flags and ZWJ sequences) and a few emoticons stay whole, as in tweet corpora (WNUT-17).
- ``whitespace``: tokens are what lies between spaces, nothing more.

CoNLL tokens: "U.S.", "1,000.5", "Anglo-Dutch" and "1996-08-22"
stay whole; "Baghdad." gives "Baghdad" and "."; "Iraq's" gives "Iraq" and "'s"; "don't" gives "do"
and "n't". The splitting is a ``tokenizers`` pre-tokenizer, whose offsets are Python ``str`` indices,
so ``text[token.start:token.end] == token.text`` for any Unicode input.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tokenizers import Regex, pre_tokenizers

_ABBREVIATIONS = (
    "Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Corp|Ltd|Co|Bros|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Capt|Mt|Ft|No|vs|"
    "etc|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Ala|Ariz|Ark|Calif|Colo|Conn|Del|Fla|Ga|"
    "Ill|Ind|Kan|Ky|La|Md|Mass|Mich|Minn|Miss|Mo|Mont|Neb|Nev|Okla|Ore|Pa|Tenn|Tex|Va|Vt|Wash|Wis|Wyo"
)
_CLITIC = r"(?:[sSdDmM]|re|ve|ll|RE|VE|LL)(?!\w)"
_PATTERN = "|".join(
    [
        r"(?:\p{L}\.){2,}",  # U.S., U.N., a.m.
        rf"(?:{_ABBREVIATIONS})\.",  # Mr., Inc., Calif.
        r"\p{Lu}\.(?!\w)",  # initials: J.
        r"\w+(?=n't(?!\w))",  # do|n't
        r"n't(?!\w)",
        rf"['’]{_CLITIC}",  # 's 're 'll
        r"\p{N}+(?:[.,:/\-]\p{N}+)+(?:-\w+)*",  # 1,000.5  1996-08-22  6-4  10:30
        r"^\.\p{N}+",  # .496 (each whitespace-separated word is matched on its own)
        r"\p{Lu}{1,2}\$",  # C$ US$
        rf"\w+(?:(?:[-/&]|['’](?!{_CLITIC}))\w+)*",  # Anglo-Dutch, AT&T, O'Neill
        r"\.{2,}|-{2,}",  # ... --
        r"\S",  # any other character on its own
    ]
)
_EMOJI_TAIL = r"[\x{FE0F}\x{1F3FB}-\x{1F3FF}]*"  # variation selector, skin tones
_SOCIAL = "|".join(
    [
        r"(?:https?://|www\.)\S+?(?=[.,!?;:)\]\"'’”]*$)",  # a URL, without the punctuation after it
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail
        r"[@#]\w+",  # @user, #hashtag
        r"[\x{1F1E6}-\x{1F1FF}]{2}",  # a flag: two regional indicators
        rf"\p{{Extended_Pictographic}}{_EMOJI_TAIL}(?:\x{{200D}}\p{{Extended_Pictographic}}{_EMOJI_TAIL})*",
        r"(?<!\w)[:;=][-']?[)(\]\[DPp/|*](?!\w)",  # :) ;-) =D :P
    ]
)
STYLES = ("conll", "social", "whitespace")
_PATTERNS = {"conll": _PATTERN, "social": f"{_SOCIAL}|{_PATTERN}"}
# What the pre-tokenizer splits words on: Rust's char::is_whitespace, the Unicode White_Space set.
# (Python's str.isspace also counts U+001C-U+001F, so \s would split where Rust does not.)
_WORD = re.compile("[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
CACHE_WORDS = 100_000  # the pieces of this many distinct words are remembered between texts ...
CACHE_WORD_CHARS = 40  # ... if they are no longer than this: long words are rare, and often unique
CACHE_PIECES = 250_000  # ... and no more pieces than this in all (bounded in bytes: about 40 MB at most)
_SENTENCE_END = {".", "!", "?", "...", "....", "?!", "\u2026"}
# A line break: \r\n counts once. What tokenize reads past: characters that print nothing inside a
# word, and a hyphen breaking a word across a line end (group 1).
_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
_HIDDEN = re.compile(r"(?<=[^\W\d_])(-[ \t]*(?:\r\n|\n)[ \t]*)(?=[^\W\d_])|[\u00ad\u200b\u2060\ufeff]")
_LIST_ITEM = re.compile(r"(?:[-*+\u2022\u2023\u25e6\u2043\u2013\u2014]|\(?\w{1,3}[.)])\s")
MIN_WRAP_WIDTH = 40  # lines shorter than this are never taken for a wrapped paragraph
WRAP_SLACK = 15  # a wrapped line runs at least this close to the width
_CLOSERS = {'"', "'", ")", "]", "\u2019", "\u201d", "\u00bb", "\u203a"}


class Token(NamedTuple):
    """A token and where it lies in the text: ``text[start:end]`` (a tuple: made by the thousand).

    ``form`` is what the token reads as when that differs from its text: a word hyphenated across a
    line end (``"Ger-\nmany"`` reads ``"Germany"``) or holding a soft hyphen or zero-width character.
    The model reads :attr:`word`; :func:`ner.text.normalize.model_form` then maps typography."""

    text: str
    start: int
    end: int
    form: str = ""

    @property
    def word(self) -> str:
        return self.form or self.text


class Tokenizer:
    """Splits text into tokens in one of :data:`STYLES`, then tokens into sentences of at most
    ``max_tokens``."""

    def __init__(self, max_tokens: int = 128, style: str = "conll") -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        if style not in STYLES:
            raise ValueError(f"unknown tokenizer style {style!r} (expected one of {', '.join(STYLES)})")
        self.max_tokens = max_tokens
        self.style = style
        pattern = _PATTERNS.get(style)
        self._split = None if pattern is None else pre_tokenizers.Split(Regex(pattern), behavior="isolated")
        self._pieces: dict[str, list[tuple[str, int, int]]] = {}  # word -> (piece, start, end)
        self._cached_pieces = 0

    def tokenize(self, text: str) -> list[Token]:
        """All tokens of ``text``, in order (see :meth:`_tokenize`). Characters that print nothing
        inside a word (soft hyphens, zero-width ones) and a hyphen that breaks a word across a line
        end are read past: the text is tokenised without them and the offsets mapped back, so a
        token's ``form`` is the word and its ``text`` what was written."""
        if not _HIDDEN.search(text):
            return self._tokenize(text)
        kept: list[int] = []  # index in text of each character of the cleaned text
        position = 0
        for hidden in _HIDDEN.finditer(text):
            kept.extend(range(position, hidden.start()))
            # a hyphenated line end: the hyphen stays before a capital ("Anglo-\nDutch")
            if hidden.group(1) is not None and text[hidden.end()].isupper():
                kept.append(hidden.start())
            position = hidden.end()
        kept.extend(range(position, len(text)))
        clean = "".join(text[i] for i in kept)
        out = []
        for token in self._tokenize(clean):
            start, end = kept[token.start], kept[token.end - 1] + 1
            written = text[start:end]
            out.append(Token(written, start, end, "" if written == token.text else token.text))
        return out

    def _tokenize(self, text: str) -> list[Token]:
        """All tokens of ``text``, in order.

        The pattern is matched within each whitespace-separated word, so each distinct word is split
        once and its pieces remembered: running text repeats most of its words, and the regular
        expression costs several microseconds a word. The memory is bounded in bytes, whatever the
        input: only words of up to ``CACHE_WORD_CHARS`` characters are remembered, at most
        ``CACHE_WORDS`` of them with ``CACHE_PIECES`` pieces in all."""
        tokens: list[Token] = []
        for match in _WORD.finditer(text):
            word, offset = match.group(), match.start()
            pieces = self._pieces.get(word)
            if pieces is None:
                if self._split is None:  # whitespace style: the word is the token
                    pieces = [(word, 0, len(word))]
                else:
                    # Python counts a few control characters (U+001C-U+001F) as spaces where Rust
                    # does not
                    split = self._split.pre_tokenize_str(word)
                    pieces = [(p, start, end) for p, (start, end) in split if not p.isspace()]
                if len(word) <= CACHE_WORD_CHARS:
                    if len(self._pieces) >= CACHE_WORDS or self._cached_pieces >= CACHE_PIECES:
                        self.cache_clear()  # refilling costs a text's worth of splits
                    self._pieces[word] = pieces
                    self._cached_pieces += len(pieces)
            tokens.extend(Token(p, offset + start, offset + end) for p, start, end in pieces)
        return _merge_list_numbers(text, tokens)

    def cache_clear(self) -> None:
        """Forget every remembered word."""
        self._pieces.clear()
        self._cached_pieces = 0

    def sentences(self, text: str) -> list[list[Token]]:
        """Tokens grouped into sentences: a break after sentence-final punctuation (and any closing
        quotes) before a token that does not start lower-case, at a blank line, and at a line break
        that is not a wrap (:func:`soft_breaks`); sentences longer than ``max_tokens`` are cut into
        pieces, which keeps memory bounded."""
        tokens = self.tokenize(text)
        soft = soft_breaks(text) if _BREAK.search(text) else frozenset()
        out: list[list[Token]] = []
        current: list[Token] = []
        for i, token in enumerate(tokens):
            if current and _ends_here(text, current[-1].end, token.start, soft):
                out.append(current)
                current = []
            current.append(token)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            word = token.text
            ends = word in _SENTENCE_END or (
                word in _CLOSERS and len(current) > 1 and current[-2].text in _SENTENCE_END
            )
            boundary = nxt is not None and ends and nxt.text not in _CLOSERS and not nxt.text[0].islower()
            if boundary or len(current) >= self.max_tokens:
                out.append(current)
                current = []
        if current:
            out.append(current)
        return out


def _ends_here(text: str, start: int, end: int, soft: frozenset[int]) -> bool:
    """Whether the whitespace ``text[start:end]`` between two tokens ends a sentence by its line
    breaks (most gaps are one space: nothing to look for)."""
    if (end - start == 1 and text[start] == " ") or end == start:
        return False
    return _BREAK.search(text, start, end) is not None and _hard_break(text, start, end, soft)


def _hard_break(text: str, start: int, end: int, soft: frozenset[int]) -> bool:
    """Whether the whitespace ``text[start:end]``, which holds a line break, ends a sentence: a
    blank line (or a paragraph separator) does, a single break does unless it is a wrap."""
    breaks = [m.start() for m in _BREAK.finditer(text, start, end)]
    if len(breaks) > 1 or text[breaks[0]] == "\u2029":
        return True
    return breaks[0] not in soft


def soft_breaks(text: str) -> frozenset[int]:
    """The line breaks of ``text`` that wrap a paragraph rather than end a line on purpose.

    A text is hard-wrapped (e-mail, PDF, plain-text files) when most of its lines, but the last of
    each paragraph, run close to one width, the longest line's (and at least three do); a break there
    is a wrap when the next line's first word would not have fitted on the line. Anything else (one
    sentence or item a line, headlines, datelines, short lines) is a deliberate break. A line that
    opens with a list marker always starts anew."""
    lines = []  # (position of the break after the line, printed length of the line, next line)
    position = 0
    for match in _BREAK.finditer(text):
        lines.append((match.start(), len(text[position : match.start()].rstrip()), match.end()))
        position = match.end()
    lengths = [n for _, n, _ in lines if n]
    if len(lengths) < 2:
        return frozenset()
    width = max(lengths)
    if width < MIN_WRAP_WIDTH:
        return frozenset()
    full = [n for i, (_, n, _) in enumerate(lines) if n and i + 1 < len(lines) and lines[i + 1][1]]
    if len(full) < 3 or sum(n >= width - WRAP_SLACK for n in full) < 0.6 * len(full):
        return frozenset()
    soft = set()
    for at, length, next_start in lines:
        if not length:
            continue
        rest = text[next_start : next_start + 80].lstrip(" \t")
        first = rest.split(maxsplit=1)[0] if rest.strip() else ""
        if first and length + 1 + len(first) > width and not _LIST_ITEM.match(rest):
            soft.add(at)
    return frozenset(soft)


def _merge_list_numbers(text: str, tokens: list[Token]) -> list[Token]:
    """A number and a period opening a line ("1. Smith", results tables) are one token, as in CoNLL.

    The pre-tokenizer sees one word at a time, so this needs the line context it lacks."""
    out: list[Token] = []
    for token in tokens:
        prev = out[-1] if out else None
        if (
            token.text == "."
            and prev is not None
            and prev.end == token.start
            and prev.text.isdigit()
            and (len(out) == 1 or "\n" in text[out[-2].end : prev.start])
        ):
            out[-1] = Token(prev.text + ".", prev.start, token.end)
        else:
            out.append(token)
    return out


def join_tokens(tokens: list[str]) -> tuple[str, list[Token]]:
    """Pre-tokenised input as one string, tokens joined by single spaces, with each token's offsets."""
    out = []
    position = 0
    for t in tokens:
        out.append(Token(t, position, position + len(t)))
        position += len(t) + 1
    return " ".join(tokens), out
