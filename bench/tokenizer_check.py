"""How the raw-text path fares on a CoNLL file written back as plain text.

    python bench/tokenizer_check.py --model models/conll03-en.pt --data $NER_DATA/valid.txt

Each sentence is detokenised the way newswire is written (no space before closing punctuation,
clitics and "n't"; none after opening brackets; quotes attached inward), tokenised again by
``ner.text.tokenize``, and compared with the gold tokens. Entity F1 is then measured twice, on character
spans: tagging the gold tokens, and tagging the plain text end to end (tokeniser and sentence splitter
included). Both read documents, as the model was trained to: the gold tokens by -DOCSTART- document
(``tag_documents``), the plain text one document per text (``tag_texts``), laid out as newswire is: a
sentence that ends in sentence-final punctuation runs on after a space, as prose does, and anything else
(a headline, a dateline, a row of a results table) ends its line. So a model with document context or
memory has it on both sides, and the splitter has the line breaks that such text has. Model selection
never sees these numbers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.text.tags import spans_from_tags
from ner.text.tokenize import Tokenizer

NO_SPACE_BEFORE = {
    ".",
    ",",
    ":",
    ";",
    "?",
    "!",
    ")",
    "]",
    "}",
    "'s",
    "'S",
    "n't",
    "'re",
    "'ve",
    "'ll",
    "'m",
    "'d",
    "%",
}
NO_SPACE_AFTER = {"(", "[", "{", "$"}


def detokenise(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Plain text and the character span of each token in it."""
    text, spans, open_quote = "", [], False
    for i, token in enumerate(tokens):
        glue = i == 0 or token in NO_SPACE_BEFORE or tokens[i - 1] in NO_SPACE_AFTER
        if token == '"':
            glue = glue or open_quote  # a closing quote sticks to the word before it
            open_quote = not open_quote
        elif i > 0 and tokens[i - 1] == '"' and open_quote:
            glue = True  # the word after an opening quote sticks to it
        if not glue:
            text += " "
        spans.append((len(text), len(text) + len(token)))
        text += token
    return text, spans


def _ends_a_sentence(tokens: list[str]) -> bool:
    """Whether a sentence ends in sentence-final punctuation, closing quotes or brackets aside."""
    rest = [t for t in tokens if t not in {'"', "'", ")", "]"}]
    return bool(rest) and rest[-1] in {".", "!", "?"}


def char_spans(tags: list[str], spans: list[tuple[int, int]]) -> set[tuple[int, int, str]]:
    return {(spans[s.start][0], spans[s.end - 1][1], s.label) for s in spans_from_tags(tags)}


def f1(gold: list[set[tuple[int, int, str]]], pred: list[set[tuple[int, int, str]]]) -> float:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, pred))
    return 200 * tp / (n_gold + n_pred) if n_gold + n_pred else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/conll03-en.pt"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tokenizer", default=None, help="style to use (default: the model's)")
    parser.add_argument(
        "--one-paragraph",
        action="store_true",
        help="join every document's sentences with spaces, no line breaks",
    )
    parser.add_argument("--tokens-only", action="store_true", help="only the token agreement, no model")
    args = parser.parse_args()
    data = read_conll(args.data)
    texts = [detokenise(s.tokens) for s in data.sentences]
    styles = (
        [args.tokenizer]
        if args.tokenizer
        else (["conll", "social", "whitespace"] if args.tokens_only else [])
    )
    tagger = None if args.tokens_only else Tagger.load(args.model, "cpu")
    tokenizer = Tokenizer(style=args.tokenizer or (tagger.tokenizer_style if tagger else "conll"))
    for style in styles or [tokenizer.style]:
        same = sum(
            [t.text for t in Tokenizer(style=style).tokenize(text)] == s.tokens
            for s, (text, _) in zip(data.sentences, texts)
        )
        share = 100 * same / len(texts)
        print(f"{style}: gold tokens recovered for {same}/{len(texts)} sentences ({share:.2f}%)")
    if tagger is None:
        return
    gold = [char_spans(s.tags, spans) for s, (_, spans) in zip(data.sentences, texts)]
    documents, doc_texts, shifts = [], [], []  # shifts: each sentence's offset into its document's text
    position = 0
    for document in data.documents():
        documents.append([s.tokens for s in document])
        mine = texts[position : position + len(document)]
        position += len(document)
        starts, joined = [], ""
        for k, (text, _) in enumerate(mine):
            if k:
                prose = args.one_paragraph or _ends_a_sentence(document[k - 1].tokens)
                joined += " " if prose else "\n"
            starts.append(len(joined))
            joined += text
        doc_texts.append(joined)
        shifts.append(starts)
    tagged = [tags for d in tagger.tag_documents(documents) for tags in d]
    on_tokens = [char_spans(tags, spans) for tags, (_, spans) in zip(tagged, texts)]
    on_text: list[set[tuple[int, int, str]]] = []
    for starts, found in zip(shifts, tagger.tag_texts(doc_texts, tokenizer)):
        per_sentence: list[set[tuple[int, int, str]]] = [set() for _ in starts]
        for e in found:  # back to the sentence it starts in, offsets into that sentence's text
            k = max(i for i, start in enumerate(starts) if start <= e.start)
            per_sentence[k].add((e.start - starts[k], e.end - starts[k], e.label))
        on_text.extend(per_sentence)
    print(f"entity F1 on gold tokens: {f1(gold, on_tokens):.2f}")
    print(f"entity F1 on plain text:  {f1(gold, on_text):.2f}")


if __name__ == "__main__":
    main()
