"""How unsure the model is of a document, for choosing what to label next (``ner select``).

The measure is one minus the length-normalised probability of the model's best tagging,
``1 - P(best path) ** (1 / tokens)`` over the document's sentences (or windows, or memory blocks:
what the model reads), with the CRF's calibrated temperature. This is the maximum normalised
log-probability (MNLP) that Shen et al. (2017, "Deep active learning for named entity recognition")
found best among uncertainty measures for CRF taggers: the whole-sequence probability sees both a
doubtful entity and a doubtful "no entity here" (a name the model nearly found), which entity scores
alone miss, and normalising by length keeps long documents from looking unsure for their length alone.
"""

from __future__ import annotations

import numpy as np

from ner.inference.tagger import Tagger, batch_order
from ner.model import crf


def path_log_probs(
    tagger: Tagger, units: list[list[str]], groups: list[int] | None = None, batch_size: int = 256
) -> np.ndarray:
    """log P(best tagging) of each unit (units: (units,)), at the model's calibrated temperature;
    0 for an empty unit. ``groups``: each unit's document block, for a model with document memory."""
    out = np.zeros(len(units))
    temperature = tagger.temperature
    scores = tagger.crf_scores().scaled(temperature)
    lengths = [len(u) for u in units]
    for chunk in batch_order(lengths, batch_size, groups):
        chunk = [k for k in chunk if lengths[k]]
        if not chunk:
            continue
        mine = None if groups is None else [groups[k] for k in chunk]
        emissions, read = tagger.emissions([units[k] for k in chunk], mine)  # (batch, seq, num_tags)
        scaled = emissions.astype(np.float64) / temperature
        best = crf.viterbi(scaled, read, scores)  # (batch, seq), -1 past each end
        path = crf.path_score(scaled, np.maximum(best, 0), read, scores)  # (batch,)
        out[chunk] = path - crf.forward_backward(scaled, read, scores).log_z
    return out


def uncertainty(tagger: Tagger, documents: list[list[list[str]]], batch_size: int = 256) -> list[float]:
    """For each document (a list of token lists), ``1 - P(best tagging) ** (1 / tokens)`` in [0, 1):
    0 when the model is sure; an empty document gets 0."""
    plan = tagger.reading_plan(documents)
    logp = path_log_probs(tagger, plan.units, plan.groups, batch_size)
    total = np.zeros(len(documents))
    tokens = np.zeros(len(documents))
    # a window is one unit (its sentences all of one document); otherwise each sentence is a unit
    owners = [p[0][0] for p in plan.places] if plan.windows else [d for p in plan.places for d, *_ in p]
    for unit, document in enumerate(owners):
        total[document] += logp[unit]
        tokens[document] += len(plan.units[unit])
    mean = np.divide(total, tokens, out=np.zeros_like(total), where=tokens > 0)
    return [float(u) for u in 1.0 - np.exp(np.minimum(mean, 0.0))]
