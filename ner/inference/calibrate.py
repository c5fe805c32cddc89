"""Temperature scaling of the CRF, so that entity scores read as probabilities.

One scalar T divides every CRF score before the forward-backward pass; Viterbi's answer does not move.
T is the value that maximises the likelihood of the gold tag sequences of held-out sentences.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ner.inference.evaluation import seen_in_training
from ner.inference.tagger import Tagger, batch_order
from ner.model import crf
from ner.runtime import InputError
from ner.text.conll import Corpus
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


Half = Literal["all", "odd", "even"]


def calibration_data(
    tagger: Tagger, data: Corpus, half: Half = "all"
) -> tuple[list[list[str]], list[list[str]], list[int] | None]:
    """What the model reads of ``data`` (its windows, blocks or sentences) with their gold tags and
    blocks, for :func:`fit_temperature`: all of it, or every other document (``odd``, ``even``;
    every other sentence for a model that reads sentences alone)."""
    if tagger.context > 0 or tagger.memory > 0:  # the windows or blocks it reads (halves by document)
        documents = data.documents()
        chosen_docs = documents if half == "all" else documents[half == "odd" :: 2]
        plan = tagger.reading_plan([[s.tokens for s in d] for d in chosen_docs])
        tags = [[chosen_docs[d][i].tags for d, i, _, _ in place] for place in plan.places]
        # a window's gold is its sentences' tags end to end; otherwise each sentence's own
        gold = [[g for s in t for g in s] for t in tags] if plan.windows else [g for t in tags for g in t]
        return plan.units, gold, plan.groups
    chosen = data.sentences if half == "all" else data.sentences[half == "odd" :: 2]
    return [s.tokens for s in chosen], [s.tags for s in chosen], None


def calibrate(tagger: Tagger, data: Corpus, half: Half = "all") -> dict[str, Any]:
    """Fit the temperature on ``data`` (held out: see :func:`ner.inference.evaluation.seen_in_training`)
    and return the checkpoint's ``metadata.calibration`` table, which the tagger now uses too.

    Raises:
        InputError: data the model trained on (the temperature would come out too low).
    """
    seen = seen_in_training(tagger.metadata, data.sha256)
    if seen:
        raise InputError(
            f"the model trained on this file ({seen}), so a temperature fitted on it comes out too low: "
            "fit it on held-out data, or for a --final model on a run of the same recipe that dev "
            "selected, and copy that with --temperature-from",
            data.path,
        )
    units, gold, groups = calibration_data(tagger, data, half)
    temperature, nll, nll_one = fit_temperature(tagger, units, gold, groups=groups)
    calibration = {
        "temperature": temperature,
        "data": {"path": str(data.path), "sha256": data.sha256, "sentences": half},
        "nll_per_sentence": {"before": nll_one, "after": nll},
    }
    tagger.metadata["calibration"] = calibration
    return calibration
