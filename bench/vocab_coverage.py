"""How many tokens of a CoNLL file the model's word vocabulary misses, and how many of those GloVe knows.

    python bench/vocab_coverage.py --data $NER_DATA/valid.txt

The second figure is what the frequency cap on the bundled GloVe slice costs in coverage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ner.encoding.vocab import WordVocab
from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.training.embeddings import GLOVE_PACKAGE, load_vectors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/conll03-en.pt"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--embeddings", default=GLOVE_PACKAGE)
    args = parser.parse_args()
    words = Tagger.load(args.model, "cpu").encoder.words
    full = WordVocab(load_vectors(args.embeddings).words)
    tokens = [t for s in read_conll(args.data).sentences for t in s.tokens]
    unknown = [t for t in tokens if words.get(t) == words.unk]
    dropped = sum(full.get(t) != full.unk for t in unknown)
    n = len(tokens)
    print(f"{n} tokens; unknown to the model: {len(unknown)} ({100 * len(unknown) / n:.2f}%)")
    print(f"of those, with a vector in {args.embeddings}: {dropped} ({100 * dropped / n:.2f}% of tokens)")


if __name__ == "__main__":
    main()
