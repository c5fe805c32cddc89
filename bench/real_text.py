"""Entity F1 on the same documents written as people write them, scored by exact character spans.

    python bench/real_text.py --data $DATA/valid.txt [--model M] [--spacy-python /tmp/spacy-venv/bin/python]

Each ``-DOCSTART-`` document of a CoNLL file is written out as raw text, one text per document, in
several ways; the gold entities follow the words to their character offsets. Every variant is made
from the same tokens, so any loss is the cost of the writing alone:

- ``lines``: one sentence a line, ASCII, words joined as text is written ("U.S. officials said, ...");
- ``typeset``: the same with curly quotes and apostrophes, em dashes, the ellipsis character;
- ``flowing``: each document one paragraph, sentences joined by spaces;
- ``wrapped``: the paragraph hard-wrapped at 72 columns (e-mail, PDF, plain-text files);
- ``crlf``: ``lines`` with Windows line ends;
- ``nbsp``: ``flowing`` with a no-break space after every number and short word;
- ``lower``: ``lines`` lower-cased.

For each variant: entity F1 (micro, exact span and label) of this project's ``Tagger.tag_texts`` and,
with ``--spacy-python``, of the spaCy peer (``../shared/peers``) on the same texts in the same run,
with ``nlp.pipe``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tokenizer_check import NO_SPACE_AFTER, NO_SPACE_BEFORE  # bench/tokenizer_check.py: the same spacing

from ner.text.conll import read_conll
from ner.text.tags import spans_from_tags

Spans = set[tuple[int, int, str]]
Doc = list[tuple[list[str], list[str]]]  # sentences: tokens and gold tags


def _typeset(token: str, opening: bool) -> str:
    """The token as a word processor would print it (quotes by position: ``opening``)."""
    if token == '"':
        return "\u201c" if opening else "\u201d"
    if token == "`" or token == "``":
        return "\u201c"
    if token in ("--", "---"):
        return "\u2014"
    if token == "...":
        return "\u2026"
    if token.startswith("'") and token.lower() in {"'s", "'re", "'ve", "'ll", "'d", "'m"}:
        return "\u2019" + token[1:]
    if token.lower() == "n't":
        return token[0] + "\u2019" + token[2:]
    if token == "'":
        return "\u2019"
    return token.replace("'", "\u2019") if any(c.isalpha() for c in token) else token


def write_sentence(tokens: list[str], tags: list[str], typeset: bool = False) -> tuple[str, Spans]:
    """One sentence as text, words joined by the usual spacing rules, and its gold spans."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    quotes = 0
    glue = True  # no space before the first token
    for i, token in enumerate(tokens):
        is_quote = token == '"'
        opening = is_quote and quotes % 2 == 0
        written = _typeset(token, opening) if typeset else token
        space = not glue and token not in NO_SPACE_BEFORE and not (is_quote and not opening)
        if token == "-" and i > 0 and typeset:
            written = "\u2014"  # a spaced hyphen is a dash: "SOCCER - JAPAN" -> "SOCCER — JAPAN"
        if space:
            out.append(" ")
            position += 1
        starts.append(position)
        out.append(written)
        position += len(written)
        ends.append(position)
        glue = token in NO_SPACE_AFTER or (is_quote and opening)
        quotes += is_quote
    spans = {(starts[s.start], ends[s.end - 1], s.label) for s in spans_from_tags(tags)}
    return "".join(out), spans


def _join(parts: list[tuple[str, Spans]], sep: str) -> tuple[str, Spans]:
    text: list[str] = []
    spans: Spans = set()
    position = 0
    for i, (part, found) in enumerate(parts):
        if i:
            text.append(sep)
            position += len(sep)
        spans |= {(a + position, b + position, label) for a, b, label in found}
        text.append(part)
        position += len(part)
    return "".join(text), spans


def _wrap(text: str, spans: Spans, width: int = 72) -> tuple[str, Spans]:
    """Hard-wrap at ``width``: a space becomes a line break (offsets do not move)."""
    chars = list(text)
    line_start = 0
    last_space = -1
    for i, c in enumerate(chars):
        if c == " ":
            last_space = i
        if i - line_start >= width and last_space > line_start:
            chars[last_space] = "\n"
            line_start = last_space + 1
    return "".join(chars), spans


def _nbsp(text: str, spans: Spans) -> tuple[str, Spans]:
    """No-break spaces where typesetters put them: after numbers and after words of 1-3 letters."""
    chars = list(text)
    word_start = 0
    for i, c in enumerate(chars):
        if c == " ":
            word = text[word_start:i]
            if word[:1].isdigit() or (0 < len(word) <= 3 and word.isalpha()):
                chars[i] = "\u00a0"
            word_start = i + 1
    return "".join(chars), spans


def variants(doc: Doc) -> dict[str, tuple[str, Spans]]:
    plain = [write_sentence(t, g) for t, g in doc]
    typeset = [write_sentence(t, g, typeset=True) for t, g in doc]
    lines = _join(plain, "\n")
    flowing = _join(plain, " ")
    return {
        "lines": lines,
        "typeset": _join(typeset, "\n"),
        "flowing": flowing,
        "wrapped": _wrap(*flowing),
        "crlf": _join(plain, "\r\n"),
        "nbsp": _nbsp(*flowing),
        "lower": (lines[0].lower(), lines[1]),
    }


def score(gold: list[Spans], found: list[Spans]) -> tuple[float, float, float]:
    tp = sum(len(g & f) for g, f in zip(gold, found))
    predicted = sum(map(len, found))
    true = sum(map(len, gold))
    p = tp / predicted if predicted else 0.0
    r = tp / true if true else 0.0
    return 100 * p, 100 * r, 100 * (2 * p * r / (p + r) if p + r else 0.0)


def ours(model: str | None) -> Callable[[list[str]], list[Spans]]:
    from ner.inference.tagger import Tagger

    tagger = Tagger.load(model) if model else Tagger.load()

    def tag(texts: list[str]) -> list[Spans]:
        found = tagger.tag_texts(texts)
        return [{(e.start, e.end, e.label) for e in ents} for ents in found]

    return tag


SPACY = """
import json, os, sys
for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")
import spacy
nlp = spacy.load(sys.argv[1])
texts = json.load(open(sys.argv[2], encoding="utf-8"))
out = [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in nlp.pipe(texts, batch_size=64)]
json.dump(out, open(sys.argv[3], "w"))
"""


def spacy(python: str, model_dir: Path) -> Callable[[list[str]], list[Spans]]:
    def tag(texts: list[str]) -> list[Spans]:
        with tempfile.TemporaryDirectory() as folder:
            source, result = Path(folder, "in.json"), Path(folder, "out.json")
            source.write_text(json.dumps(texts), encoding="utf-8")
            subprocess.run([python, "-c", SPACY, str(model_dir), str(source), str(result)], check=True)
            return [{(a, b, label) for a, b, label in doc} for doc in json.loads(result.read_text())]

    return tag


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="a CoNLL file with -DOCSTART- documents (valid.txt)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    parser.add_argument("--spacy-python", default=None, help="the python of a venv with spaCy (side venv)")
    parser.add_argument(
        "--spacy-model",
        type=Path,
        default=Path(__file__).parent.parent.parent / "shared/peers/spacy-cnn-conll03",
    )
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    args = parser.parse_args()
    corpus = read_conll(args.data)
    docs: list[Doc] = [[(s.tokens, s.tags) for s in d] for d in corpus.documents()]
    written = [variants(d) for d in docs]
    names = args.only or list(written[0])
    taggers = {"this project": ours(args.model)}
    if args.spacy_python:
        taggers["spaCy peer"] = spacy(args.spacy_python, args.spacy_model)
    rows = []
    base: dict[str, float] = {}
    for name in names:
        texts = [w[name][0] for w in written]
        gold = [w[name][1] for w in written]
        row = [name]
        for who, tag in taggers.items():
            started = time.perf_counter()
            p, r, f1 = score(gold, tag(texts))
            seconds = time.perf_counter() - started
            base.setdefault(who, f1)
            row.append(f"{f1:.2f} ({f1 - base[who]:+.2f}) P {p:.2f} R {r:.2f} {seconds:.1f}s")
        rows.append(row)
        print(" | ".join(row), flush=True)
    print()
    print("| written as | " + " | ".join(taggers) + " |")
    print("| --- |" + " --- |" * len(taggers))
    for row in rows:
        print("| " + " | ".join(c.split(" P ")[0] for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
