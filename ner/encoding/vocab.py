"""Vocabularies for words, characters and tags, stored as plain lists."""

from __future__ import annotations

import re
from collections.abc import Iterable

PAD = "<pad>"
UNK = "<unk>"
_DIGIT = re.compile(r"\d")


def normalise(word: str) -> str:
    """The form a word is stored under: lower-cased, every digit made ``0``."""
    return _DIGIT.sub("0", word.lower())


class Vocab:
    """A list of items with index 0 for padding and 1 for unknown items (when ``specials``)."""

    def __init__(self, items: Iterable[str], specials: bool = True) -> None:
        head = [PAD, UNK] if specials else []
        self.items: list[str] = head + [i for i in dict.fromkeys(items) if i not in head]
        self.index: dict[str, int] = {item: i for i, item in enumerate(self.items)}
        self.unk = 1 if specials else -1

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    def get(self, item: str) -> int:
        """The index of ``item``, or of ``<unk>``; ``KeyError`` if unknown and there is none."""
        found = self.index.get(item, self.unk)
        if found < 0:
            raise KeyError(item)
        return found


class WordVocab(Vocab):
    """Words as GloVe stores them; a token is looked up as is, lower-cased, then normalised."""

    def get(self, item: str) -> int:
        index = self.index
        found = index.get(item)
        if found is None:
            found = index.get(item.lower())
            if found is None:  # normalise only when the cheaper forms are not there
                found = index.get(normalise(item), self.unk)
        return found
