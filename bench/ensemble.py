"""Entity F1 of an ensemble of checkpoints on a CoNLL file, what distillation (``--teacher``) aims at.

    python bench/ensemble.py --data valid.txt --model runs/a.pt --model runs/b.pt [--model ...]

The ensemble's tags are the best IOBES path through the mean of the models' token marginals (the
targets ``ner train --teacher`` learns from), each model reading the file by documents; each model's
own path through its marginals is printed too. No timing.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ner.inference.tagger import Tagger
from ner.model import crf
from ner.model.kernels import masked_crf_scores
from ner.text.conll import read_conll
from ner.text.evaluate import evaluate
from ner.text.tags import convert
from ner.training.data import memory_blocks
from ner.training.distil import teacher_marginals


def decode(marginals: list[np.ndarray], tagger: Tagger) -> list[list[str]]:
    """The most likely path through each sentence's token marginals that the scheme allows, as
    tags in the data's scheme."""
    n = len(tagger.encoder.tags.items)
    zeros = np.zeros(n), np.zeros((n, n)), np.zeros(n)
    moves = masked_crf_scores(*zeros, tagger.allowed)  # only what the scheme forbids
    tags = tagger.encoder.tags.items
    out = []
    for m in marginals:
        path = crf.viterbi(np.log(np.maximum(m, 1e-12))[None], np.array([len(m)]), moves)[0]
        out.append(convert([tags[k] for k in path[: len(m)]], tagger.data_scheme))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="CoNLL file with gold tags")
    parser.add_argument("--model", action="append", required=True, help="checkpoint (repeat for each)")
    args = parser.parse_args()
    corpus = read_conll(args.data)
    gold = [s.tags for s in corpus.sentences]
    sentences = [s.tokens for s in corpus.sentences]
    first = Tagger.load(args.model[0], device="cpu")
    blocks = memory_blocks(corpus, first.memory)
    tags, scheme = first.encoder.tags.items, first.model_scheme
    cpu = torch.device("cpu")
    each = [teacher_marginals([path], sentences, blocks, tags, scheme, cpu) for path in args.model]
    for path, marginals in zip(args.model, each):
        print(f"{path:<40} F1 {evaluate(gold, decode(marginals, first)).overall.f1:.2f}")
    mean = [np.mean(m, axis=0) for m in zip(*each)]
    print(f"{'ensemble of ' + str(len(each)):<40} F1 {evaluate(gold, decode(mean, first)).overall.f1:.2f}")


if __name__ == "__main__":
    main()
