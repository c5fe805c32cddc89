"""Batched CRF inference that pytorch-crf lacks: Viterbi without per-token syncs, and marginals.

``pytorch-crf`` gives the training loss. Decoding here works on whole batches with tensor ops only
(the backtrace included), so a GPU is synchronised once per batch, not once per token, and the
forward-backward pass gives per-token marginals and the probability of any labelled span.

All functions take right-padded ``mask`` (batch, seq) bool tensors whose first column is all true,
and the CRF's scores: ``start`` (num_tags,), ``transitions`` (num_tags, num_tags) from row to
column, ``end`` (num_tags,).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

Rows = np.ndarray | Sequence[Sequence[float]]  # (seq, num_tags) scores off the device


@dataclass
class CrfScores:
    """Start, transition and end scores of a CRF, with forbidden moves already set very low."""

    start: Tensor  # (num_tags,)
    transitions: Tensor  # (num_tags, num_tags)
    end: Tensor  # (num_tags,)


def viterbi(emissions: Tensor, mask: Tensor, crf: CrfScores) -> Tensor:
    """Best tag sequence per sentence.

    Args:
        emissions: (batch, seq, num_tags) scores.
        mask: (batch, seq) bool, right-padded.
        crf: the CRF's scores.

    Returns:
        (batch, seq) tag indices; positions past a sentence's end repeat its last tag.
    """
    batch, seq, num_tags = emissions.shape
    score = crf.start + emissions[:, 0]  # (batch, num_tags)
    identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
    pointers = []
    for t in range(1, seq):
        total = score.unsqueeze(2) + crf.transitions  # (batch, from, to)
        best, pointer = total.max(dim=1)  # (batch, to)
        step = mask[:, t].unsqueeze(1)  # (batch, 1)
        score = torch.where(step, best + emissions[:, t], score)  # (batch, num_tags)
        pointers.append(torch.where(step, pointer, identity))  # (batch, num_tags)
    last = (score + crf.end).argmax(dim=1)  # (batch,)
    path = [last]
    for pointer in reversed(pointers):
        last = pointer.gather(1, last.unsqueeze(1)).squeeze(1)  # (batch,)
        path.append(last)
    path.reverse()
    return torch.stack(path, dim=1)  # (batch, seq)


def scaled(crf: CrfScores, temperature: float) -> CrfScores:
    """The CRF's scores divided by ``temperature`` (> 1 softens probabilities; argmax unchanged)."""
    return CrfScores(crf.start / temperature, crf.transitions / temperature, crf.end / temperature)


def path_score(emissions: Tensor, tags: Tensor, mask: Tensor, crf: CrfScores) -> Tensor:
    """Unnormalised score of the given ``tags`` (batch, seq) per sentence, (batch,)."""
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (batch, seq)
    moved = crf.transitions[tags[:, :-1], tags[:, 1:]]  # (batch, seq - 1)
    last = tags.gather(1, (mask.sum(dim=1) - 1).unsqueeze(1)).squeeze(1)  # (batch,)
    inner = (emitted * mask).sum(dim=1) + (moved * mask[:, 1:]).sum(dim=1)  # (batch,)
    return crf.start[tags[:, 0]] + inner + crf.end[last]


@dataclass
class ForwardBackward:
    """Log forward and backward scores and the log partition function of a batch."""

    alpha: Tensor  # (batch, seq, num_tags): log-sum of prefixes ending in each tag, emission included
    beta: Tensor  # (batch, seq, num_tags): log-sum of the suffixes after each tag, end score included
    log_z: Tensor  # (batch,)

    def marginals(self) -> Tensor:
        """P(tag at t = k), (batch, seq, num_tags); rows past a sentence's end are meaningless."""
        return (self.alpha + self.beta - self.log_z[:, None, None]).exp()


def forward_backward(emissions: Tensor, mask: Tensor, crf: CrfScores) -> ForwardBackward:
    """Run the forward and backward recursions over a batch (arguments as :func:`viterbi`)."""
    batch, seq, num_tags = emissions.shape
    alphas = [crf.start + emissions[:, 0]]  # each (batch, num_tags)
    for t in range(1, seq):
        prev = alphas[-1].unsqueeze(2)  # (batch, from, 1)
        nxt = torch.logsumexp(prev + crf.transitions, dim=1) + emissions[:, t]  # (batch, to)
        alphas.append(torch.where(mask[:, t].unsqueeze(1), nxt, alphas[-1]))
    betas = [crf.end.expand(batch, num_tags)]
    for t in range(seq - 2, -1, -1):
        after = (emissions[:, t + 1] + betas[-1]).unsqueeze(1)  # (batch, 1, to)
        nxt = torch.logsumexp(crf.transitions + after, dim=2)  # (batch, from)
        betas.append(torch.where(mask[:, t + 1].unsqueeze(1), nxt, betas[-1]))
    betas.reverse()
    alpha = torch.stack(alphas, dim=1)  # (batch, seq, num_tags)
    beta = torch.stack(betas, dim=1)  # (batch, seq, num_tags)
    log_z = torch.logsumexp(alphas[-1] + crf.end, dim=1)  # (batch,)
    return ForwardBackward(alpha, beta, log_z)


def span_log_prob(
    alpha: Rows,
    beta: Rows,
    emissions: Rows,
    transitions: Rows,
    log_z: float,
    start: int,
    tags: list[int],
) -> float:
    """Log-probability that one sentence's tags at ``start``, ``start+1``, ... are exactly ``tags``.

    Arguments are one sentence's (seq, num_tags) rows already off the device (numpy arrays or lists),
    which keeps this cheap per entity.
    """
    score = float(alpha[start][tags[0]])
    for offset in range(1, len(tags)):
        score += float(transitions[tags[offset - 1]][tags[offset]] + emissions[start + offset][tags[offset]])
    return score + float(beta[start + len(tags) - 1][tags[-1]]) - log_z
