"""Temperature scaling of the CRF, so that entity scores read as probabilities.

One scalar T divides every CRF score before the forward-backward pass; Viterbi's answer does not move.
T is the value that maximises the likelihood of the gold tag sequences of held-out sentences.
"""

from __future__ import annotations

import math

import numpy as np

from ner.inference.tagger import Tagger, batch_order
from ner.model import crf
from ner.text.tags import convert

GRID = [round(0.5 + 0.05 * k, 2) for k in range(71)]  # 0.5 ... 4.0


def fit_temperature(
    tagger: Tagger,
    sentences: list[list[str]],
    gold: list[list[str]],
    batch_size: int = 256,
    groups: list[int] | None = None,
) -> tuple[float, float, float]:
    """The temperature on ``GRID`` with the lowest mean gold NLL; returns (T, nll at T, nll at 1).
    ``groups`` gives each sentence's document block, for a model with document memory."""
    index = tagger.encoder.tags.index
    totals = dict.fromkeys(GRID, 0.0)
    base = tagger.crf_scores()
    for chunk in batch_order([len(s) for s in sentences], batch_size, groups):
        words = [sentences[i] for i in chunk]
        tags = [[index[t] for t in convert(gold[i], tagger.model_scheme)] for i in chunk]
        mine = None if groups is None else [groups[i] for i in chunk]
        emissions, lengths = tagger.emissions(words, mine)  # (batch, seq, num_tags), (batch,)
        gold_tags = np.zeros(emissions.shape[:2], dtype=np.int64)
        for b, t in enumerate(tags):
            gold_tags[b, : len(t)] = t
        for temperature in GRID:
            scores = base.scaled(temperature)
            scaled = emissions / temperature
            log_z = crf.forward_backward(scaled, lengths, scores).log_z  # (batch,)
            gold_score = crf.path_score(scaled, gold_tags, lengths, scores)  # (batch,)
            totals[temperature] += float((log_z - gold_score).sum())
    best = min(GRID, key=totals.__getitem__)
    n = len(sentences)
    return best, totals[best] / n, totals[1.0] / n if 1.0 in totals else math.nan
