"""This project's sentence splitter against sentence-splitting libraries, on entity F1 and speed.

    pip install pysbd blingfire   # for this benchmark only; the project needs neither
    python bench/splitters.py --data $DATA/valid.txt [--model M] [--only lines wrapped]

The dev documents are written as ``bench/real_text.py`` writes them. For each splitter, the texts are
tokenised by this project's tokenizer (so offsets and tokens are the same) and cut into sentences where
the splitter says: ``ours`` is ``Tokenizer.sentences``; ``pysbd`` (rule-based, Golden Rules) and
``blingfire`` (a finite-state splitter) give character spans, and each token goes to the sentence its
first character lies in. The same model then tags the sentences of each document. Printed per variant:
entity F1, and the splitter's own time over all the texts (median of 3).
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from real_text import score, variants  # bench/real_text.py

from ner.inference.pipeline import prepare_split
from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.tokenize import Token, Tokenizer

Split = Callable[[str], list[list[Token]]]


def by_spans(tokenizer: Tokenizer, starts_of: Callable[[str], list[int]]) -> Split:
    """A splitter from a function giving each sentence's first character."""

    def split(text: str) -> list[list[Token]]:
        starts = starts_of(text)
        out: dict[int, list[Token]] = {}
        for token in tokenizer.tokenize(text):
            out.setdefault(max(0, bisect.bisect_right(starts, token.start) - 1), []).append(token)
        sentences = [s for _, s in sorted(out.items())]
        step = tokenizer.max_tokens  # cut long sentences as ours does
        return [s[i : i + step] for s in sentences for i in range(0, len(s), step)]

    return split


def pysbd_starts() -> Callable[[str], list[int]]:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [span.start for span in segmenter.segment(text)] or [0]


def blingfire_starts() -> Callable[[str], list[int]]:
    import blingfire

    def starts(text: str) -> list[int]:
        _, offsets = blingfire.text_to_sentences_and_offsets(text)
        return [a for a, _ in offsets] or [0]

    return starts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--only", nargs="*", default=["lines", "typeset", "flowing", "wrapped", "crlf"])
    args = parser.parse_args()
    tagger = Tagger.load(args.model) if args.model else Tagger.load()
    tokenizer = Tokenizer(style=tagger.tokenizer_style)
    splitters: dict[str, Split] = {"ours": tokenizer.sentences}
    for name, make in (("pysbd", pysbd_starts), ("blingfire", blingfire_starts)):
        try:
            splitters[name] = by_spans(Tokenizer(style=tagger.tokenizer_style), make())
        except ImportError:
            print(f"{name} is not installed: skipped", file=sys.stderr)
    docs = [[(s.tokens, s.tags) for s in d] for d in read_conll(args.data).documents()]
    written = [variants(d) for d in docs]
    print("| written as | " + " | ".join(f"{n}: F1, split s" for n in splitters) + " |")
    print("| --- |" + " --- |" * len(splitters))
    for name in args.only:
        texts = [w[name][0] for w in written]
        gold = [w[name][1] for w in written]
        cells = []
        for split in splitters.values():
            seconds = []
            for _ in range(3):
                started = time.perf_counter()
                cut = [split(t) for t in texts]
                seconds.append(time.perf_counter() - started)
            found = tagger.tag_prepared(prepare_split(tagger, texts, cut))
            _, _, f1 = score(gold, [{(e.start, e.end, e.label) for e in ents} for ents in found])
            cells.append(f"{f1:.2f}, {statistics.median(seconds):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
