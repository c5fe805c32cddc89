"""Name lists (gazetteers) as a per-token feature, as Chiu & Nichols (2016): each list marks the
longest token sequences of a sentence that it holds, in BIOES form, and the model reads the marks
beside each token's word vector and spelling.

A list file has one name a line, ``LABEL<TAB>name``; the label names the list (``LOC``, ``drug``, ...),
and need not be one of the model's entity types. Names are split with the model's tokenizer and
matched without regard to case (``model_form`` then lower case), but only from a token written with
a capital: "Of" and "Split" are towns, "of" and "split" are not (text written all in lower case
gets no marks; the model reads it from its words). The lists travel inside the checkpoint
(:meth:`Gazetteer.to_table`), so serving needs no file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ner.runtime import InputError, unreadable
from ner.text.normalize import model_form
from ner.text.tokenize import Tokenizer

MARKS = ("B", "I", "E", "S")  # per list: the first, an inner, the last token of a match, or all of it
MAX_NAME_TOKENS = 8  # longer lines are not names (a sentence pasted by mistake): skipped
MAX_LISTS = 15  # 4 marks each must fit one int64 bitmask per token (60 bits)


def key(token: str) -> str:
    """How a token is compared with the lists' tokens."""
    return model_form(token).lower()


class Gazetteer:
    """Named lists of token sequences, matched longest first."""

    def __init__(self, names: Mapping[str, Iterable[Sequence[str]]]) -> None:
        if len(names) > MAX_LISTS:
            raise ValueError(f"at most {MAX_LISTS} lists (got {len(names)}: {', '.join(sorted(names))})")
        self.labels = sorted(names)
        self.names: list[set[tuple[str, ...]]] = []
        self.starts: list[set[str]] = []  # the first tokens of each list's names
        self.longest = 0
        for label in self.labels:
            entries = {tuple(key(t) for t in name) for name in names[label] if name}
            self.names.append(entries)
            self.starts.append({name[0] for name in entries})
            self.longest = max([self.longest, *map(len, entries)])

    @property
    def bits(self) -> int:
        """The feature's width: four marks per list."""
        return len(MARKS) * len(self.labels)

    def __len__(self) -> int:
        return sum(map(len, self.names))

    def codes(self, tokens: Sequence[str]) -> list[int]:
        """One bitmask per token: bit ``4 * list + mark`` is set where the list's longest match, read
        left to right, puts ``MARKS[mark]``. A match must begin at a token with a capital: names are
        written so, and the lists hold towns called "Of", "Split" and "Reading"."""
        keys = [key(t) for t in tokens]
        cased = [t != k for t, k in zip(tokens, keys)]  # roughly: a capital somewhere
        out = [0] * len(keys)
        for k, (entries, starts) in enumerate(zip(self.names, self.starts)):
            i = 0
            while i < len(keys):
                if not cased[i] or keys[i] not in starts:
                    i += 1
                    continue
                widths = range(min(self.longest, len(keys) - i), 0, -1)
                n = next((n for n in widths if tuple(keys[i : i + n]) in entries), 0)
                if n == 0:
                    i += 1
                    continue
                base = len(MARKS) * k
                if n == 1:
                    out[i] |= 1 << (base + 3)
                else:
                    out[i] |= 1 << base
                    for j in range(i + 1, i + n - 1):
                        out[j] |= 1 << (base + 1)
                    out[i + n - 1] |= 1 << (base + 2)
                i += n
        return out

    def to_table(self) -> dict[str, list[str]]:
        """The lists as a checkpoint stores them: label -> names, tokens joined by spaces, sorted."""
        return {label: sorted(" ".join(n) for n in names) for label, names in zip(self.labels, self.names)}

    @classmethod
    def of_table(cls, table: dict[str, Any]) -> Gazetteer:
        """From :meth:`to_table`'s form. Raises ``ValueError`` for anything else."""
        if not isinstance(table, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in table.values()
        ):
            raise ValueError("gazetteer must map each label to a list of names")
        return cls({str(label): [n.split(" ") for n in names] for label, names in table.items()})


def read_lists(paths: Sequence[str | Path], style: str = "conll") -> Gazetteer:
    """Lists from ``LABEL<TAB>name`` files (UTF-8; blank lines and lines starting with ``#`` skipped).

    Raises:
        InputError: a missing or undecodable file, or a line without a label and a name (said by line).
    """
    split = Tokenizer(MAX_NAME_TOKENS * 4, style)  # the model's own tokenizer style
    if not paths:
        raise InputError("no gazetteer files given")
    names: dict[str, set[tuple[str, ...]]] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise unreadable(exc, path) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", path) from None
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            label, tab, name = line.partition("\t")
            if not tab or not label.strip() or not name.strip():
                raise InputError(f"expected LABEL<TAB>name, got {line[:80]!r}", path, number)
            tokens = tuple(t.word for t in split.tokenize(name.strip()))
            if 0 < len(tokens) <= MAX_NAME_TOKENS:
                names.setdefault(label.strip(), set()).add(tokens)
    if not names:
        raise InputError("the gazetteer files hold no names", paths[0])
    try:
        return Gazetteer(names)
    except ValueError as exc:
        raise InputError(str(exc), paths[0]) from None
