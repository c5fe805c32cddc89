"""Targets for distilling an ensemble into one model: the teachers' mean tag distributions per token."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ner.encoding.packing import pack
from ner.inference.tagger import Tagger
from ner.model import crf
from ner.runtime import InputError
from ner.text.tags import Scheme

log = logging.getLogger(__name__)

TEACHER_BATCH = 64  # sentences per teacher batch; whole blocks are never split


def teacher_marginals(
    teachers: list[str],
    sentences: list[list[str]],
    blocks: list[list[int]] | None,
    tags: list[str],
    scheme: Scheme,
    device: torch.device,
) -> list[np.ndarray]:
    """For each of ``sentences``, the mean over ``teachers`` (checkpoint paths) of each token's tag
    marginals under the teacher's CRF, (tokens, num_tags) float32, the tags in the order of ``tags``.

    A teacher reads the sentences as the student's tagging will: with document memory, by the
    ``blocks`` (lists of sentence indices) of their documents; else each alone. Every teacher must
    have the student's tag set and ``scheme``; its own vocabulary encodes the tokens.

    Raises:
        InputError: a teacher that cannot be loaded or has other tags.
    """
    units = blocks if blocks is not None else [[i] for i in range(len(sentences))]
    total = [np.zeros((len(s), len(tags)), dtype=np.float64) for s in sentences]
    for path in teachers:
        try:
            teacher = Tagger.load(path, str(device))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"cannot load the teacher: {exc}", Path(path)) from exc
        if teacher.encoder.tags.items != tags or teacher.model_scheme != scheme:
            raise InputError(
                f"the teacher's tags ({teacher.model_scheme}: {', '.join(teacher.encoder.tags.items)}) "
                f"are not the student's ({scheme}: {', '.join(tags)})",
                Path(path),
            )
        if bool(teacher.memory) != (blocks is not None):
            has = ("has", "does not") if teacher.memory else ("lacks", "has")
            log.warning("teacher %s %s document memory and the student %s", path, *has)
        scores = teacher.crf_scores()
        for bin_ in pack([len(unit) for unit in units], TEACHER_BATCH):
            chunk = [units[u] for u in bin_]
            indices = [i for unit in chunk for i in unit]
            groups = [b for b, unit in enumerate(chunk) for _ in unit]
            emissions, lengths = teacher.emissions(
                [sentences[i] for i in indices], groups if blocks is not None else None
            )  # (batch, seq, tags), (batch,)
            marginals = crf.forward_backward(
                emissions.astype(np.float64), lengths, scores
            ).marginals()  # (batch, seq, tags)
            for row, i in enumerate(indices):
                total[i] += marginals[row, : lengths[row]]
        log.info("teacher %s: marginals of %d sentences", path, len(sentences))
    return [(t / len(teachers)).astype(np.float32) for t in total]
