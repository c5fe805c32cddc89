"""CoNLL -> span data -> tags: does reading annotation tools' JSON give back the same tags?

    python bench/span_roundtrip.py --data DATA/valid.txt --tokenizer conll

Each -DOCSTART- document is written as one text (tokens joined by spaces, sentences by newlines) with
its entities as doccano triples, read back with ner.text.spans.read_corpus and the given tokenizer, and
compared: tokens, tags, entity counts and entity (text, label) pairs.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

from ner.text.conll import read_conll
from ner.text.spans import doccano_records, read_corpus
from ner.text.tags import convert, spans_from_tags


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tokenizer", default="conll", choices=("conll", "social", "whitespace"))
    args = parser.parse_args()
    source = read_conll(args.data)
    records = doccano_records(source)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        back = read_corpus(path, tokenizer=args.tokenizer)
    before = [(t, g) for s in source.sentences for t, g in zip(s.tokens, convert(s.tags, "iob2"))]
    after = [(t, g) for s in back.sentences for t, g in zip(s.tokens, s.tags)]
    gold, read = collections.Counter(), collections.Counter()
    for r in records:
        gold.update((r["text"][a:b], label) for a, b, label in r["label"])
    for s in back.sentences:
        read.update((" ".join(s.tokens[x.start : x.end]), x.label) for x in spans_from_tags(s.tags))
    print(f"tokens: {len(before):,} -> {len(after):,}; same tokens and tags: {before == after}")
    print(f"entities: {sum(gold.values()):,} -> {sum(read.values()):,}; (text, label) pairs differing: "
          f"{sum((gold - read).values())} (text with tokens joined by spaces)")  # fmt: skip


if __name__ == "__main__":
    main()
