"""Where a training step's time goes, with the whole word embedding trained and with only the rows of
the training words (``BiLstmCrf.freeze_words_except``, what ``ner train`` does), in turns.

    python bench/train_step.py --train ../shared/data/conll2003/train.txt --vocab 150000 --rounds 3

Each round times --steps batches of the bundled recipe (batch 32, NAdam, clipping at 5) for each way,
from the same starting weights, split into collate, forward (network, CRF loss), backward, clipping and
the optimizer step; it prints the median of the rounds in ms per step, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ner.encoding.batch import buckets, collate
from ner.encoding.encode import Encoded, Encoder
from ner.model.config import ModelConfig, Sizes
from ner.model.network import BiLstmCrf
from ner.text.conll import read_conll
from ner.text.tags import convert
from ner.training.config import TrainConfig
from ner.training.data import build_vocabs
from ner.training.embeddings import embedding_matrix, load_vectors
from ner.training.train import make_optimizer

PARTS = ("collate", "network", "crf", "backward", "clip", "step")


def _time(
    encoder: Encoder, matrix: np.ndarray, encoded: list[Encoded], order: list[list[int]], frozen: bool
) -> dict[str, float]:
    torch.manual_seed(1)
    model = BiLstmCrf(ModelConfig(), Sizes(len(encoder.words), len(encoder.chars), len(encoder.tags)))
    assert isinstance(model.word_embed, torch.nn.Embedding)
    model.word_embed.weight.data.copy_(torch.from_numpy(matrix))
    if frozen:
        seen = {encoder.words.unk, *(w for e in encoded for w in e.words)}
        model.freeze_words_except(torch.tensor(sorted(seen)))
    optimizer = make_optimizer(model.parameters(), TrainConfig())
    model.train()
    spent = dict.fromkeys(PARTS, 0.0)

    def lap(part: str, since: float) -> float:
        now = time.perf_counter()
        spent[part] += now - since
        return now

    for indices in order:
        t = time.perf_counter()
        batch = collate([encoded[i] for i in indices])
        assert batch.tags is not None
        t = lap("collate", t)
        emissions = model.emissions(batch)
        t = lap("network", t)
        loss = -model.crf(emissions, batch.tags, mask=batch.mask, reduction="mean")
        t = lap("crf", t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t = lap("backward", t)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        t = lap("clip", t)
        optimizer.step()
        lap("step", t)
    return {k: 1000 * v / len(order) for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="training CoNLL file")
    parser.add_argument("--vocab", type=int, default=150_000, help="GloVe words kept (glove_limit)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = read_conll(args.train)
    vectors = load_vectors("glove-6b-50d")
    encoder, _ = build_vocabs(data, vectors, args.vocab, "iobes")
    matrix, _ = embedding_matrix(encoder.words.items, vectors, 1)
    encoded = [encoder.encode(s.tokens, convert(s.tags, "iobes")) for s in data.sentences]
    order = list(buckets([len(e.words) for e in encoded], 32, np.random.default_rng(1)))[: args.steps]
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for frozen in (False, True):
            results[frozen].append(_time(encoder, matrix, encoded, order, frozen))
    threads = torch.get_num_threads()
    print(f"{len(encoder.words):,} words, {args.steps} steps x {args.rounds} rounds, {threads} threads")
    print("ms per step (median of rounds): " + "  ".join(f"{p:>8}" for p in (*PARTS, "total")))
    totals = {}
    for frozen, name in ((False, "whole table"), (True, "training rows")):
        medians = {p: statistics.median(r[p] for r in results[frozen]) for p in PARTS}
        totals[frozen] = statistics.median(sum(r.values()) for r in results[frozen])
        print(f"{name:>31}: " + "  ".join(f"{medians[p]:8.1f}" for p in PARTS) + f"  {totals[frozen]:8.1f}")
    print(f"speed-up: {totals[False] / totals[True]:.2f}x")


if __name__ == "__main__":
    main()
