"""CRF inference that pytorch-crf lacks, in numpy: batched Viterbi, marginals and span probabilities.

``pytorch-crf`` gives the training loss. At inference the emission scores are copied off the device
once per batch (a GPU is synchronised once per batch, never once per token) and the recursions run
here on the CPU: with a handful of tags each step is a few small array operations, which numpy does
in about a microsecond where a PyTorch operator costs several.

The forward-backward pass works in probability space with every step rescaled to sum to one, its
logarithm carried aside, in float64: each step is one small matrix product instead of a log-sum-exp
over a (batch, tags, tags) array, and nothing overflows or underflows for any realistic scores.

All functions take ``emissions`` (batch, seq, num_tags), ``lengths`` (batch,) of right-padded
sentences (each at least 1), and the CRF's scores: ``start`` (num_tags,), ``transitions``
(num_tags, num_tags) from row to column, ``end`` (num_tags,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass
class CrfScores:
    """Start, transition and end scores of a CRF, with forbidden moves already set very low."""

    start: Array  # (num_tags,)
    transitions: Array  # (num_tags, num_tags)
    end: Array  # (num_tags,)

    def scaled(self, temperature: float) -> CrfScores:
        """The scores divided by ``temperature`` (> 1 softens probabilities; Viterbi's answer stays)."""
        return CrfScores(self.start / temperature, self.transitions / temperature, self.end / temperature)


def _mask(lengths: Array, seq: int) -> Array:
    return np.arange(seq)[None, :] < np.asarray(lengths)[:, None]  # (batch, seq)


def viterbi(emissions: Array, lengths: Array, crf: CrfScores) -> Array:
    """Best tag sequence per sentence, (batch, seq) int; positions past a sentence's end are -1.

    Each step only adds and compares, so a sentence gets the same answer alone as in any batch.
    """
    batch, seq, num_tags = emissions.shape
    mask = _mask(lengths, seq)
    dtype = emissions.dtype
    # Tags first and the batch last, so that every array operation runs over the batch in one
    # contiguous stretch (a reduction over the 17 or so tags as the last axis is several times slower).
    moves = crf.transitions.astype(dtype)[:, :, None]  # (from, to, 1)
    emitted = np.ascontiguousarray(emissions.transpose(1, 2, 0))  # (seq, num_tags, batch)
    score = crf.start.astype(dtype)[:, None] + emitted[0]  # (num_tags, batch)
    pointers = np.empty((seq, num_tags, batch), dtype=np.intp)
    total = np.empty((num_tags, num_tags, batch), dtype=dtype)  # (from, to, batch)
    ties = np.empty((num_tags, num_tags, batch), dtype=bool)
    shortest = int(np.min(lengths))
    for t in range(1, seq):
        np.add(score[:, None, :], moves, out=total)
        best = total.max(axis=0)  # (to, batch)
        np.equal(total, best, out=ties)
        pointers[t] = ties.argmax(axis=0)  # the first best 'from', as argmax would give
        best += emitted[t]
        score = best if t < shortest else np.where(mask[None, :, t], best, score)
    last = (score + crf.end[:, None]).argmax(axis=0)  # (batch,)
    ends = np.asarray(lengths) - 1
    path = np.full((batch, seq), -1, dtype=np.intp)
    flat = np.arange(batch)
    current = last
    for t in range(seq - 1, -1, -1):
        live = t <= ends
        path[live, t] = current[live]
        if t:
            current = np.where(live, pointers[t, current, flat], current)
    return path


@dataclass
class ForwardBackward:
    """Log forward and backward scores and the log partition function of a batch (float64)."""

    alpha: Array  # (batch, seq, num_tags): log-sum of prefixes ending in each tag, emission included
    beta: Array  # (batch, seq, num_tags): log-sum of the suffixes after each tag, end score included
    log_z: Array  # (batch,)

    def marginals(self) -> Array:
        """P(tag at t = k), (batch, seq, num_tags); rows past a sentence's end are meaningless."""
        return np.exp(self.alpha + self.beta - self.log_z[:, None, None])  # type: ignore[no-any-return]


def forward_backward(emissions: Array, lengths: Array, crf: CrfScores) -> ForwardBackward:
    """Run the forward and backward recursions over a batch (arguments as :func:`viterbi`)."""
    batch, seq, num_tags = emissions.shape
    mask = _mask(lengths, seq)
    emit = emissions.astype(np.float64)
    top = emit.max(axis=2, keepdims=True)  # (batch, seq, 1)
    weights = np.exp(emit - top)  # (batch, seq, num_tags), each row's largest is 1
    trans = crf.transitions.astype(np.float64)
    trans_top = float(trans.max())
    moves = np.exp(trans - trans_top)  # (from, to)
    start, end = crf.start.astype(np.float64), crf.end.astype(np.float64)

    # Each step keeps the rescaled vector and the sum the rescaling divided out; the logarithms are
    # taken once at the end, over whole arrays. Past a sentence's end the vector stays as it was and
    # the sum is 1 (log 0). Steps before the shortest sentence's end need no such care.
    shortest = int(np.min(lengths))
    steps = np.empty((batch, seq, num_tags))
    sums = np.ones((batch, seq))
    a = np.exp(start - start.max()) * weights[:, 0]
    sums[:, 0] = a.sum(axis=1)
    steps[:, 0] = a = a / sums[:, 0, None]
    for t in range(1, seq):
        nxt = (a @ moves) * weights[:, t]
        norm = nxt.sum(axis=1)
        if t >= shortest:
            live = mask[:, t]
            norm = np.where(live, norm, 1.0)
            nxt = np.where(live[:, None], nxt, a)
        sums[:, t] = norm
        steps[:, t] = a = nxt / norm[:, None]
    lifted = np.log(sums) + (trans_top + top[:, :, 0]) * mask  # (batch, seq)
    lifted[:, 0] += start.max() - trans_top
    with np.errstate(divide="ignore"):  # log(0) = -inf for a forbidden tag is wanted
        alpha = np.log(steps) + np.cumsum(lifted, axis=1)[:, :, None]
        log_z = np.log(a @ np.exp(end - end.max())) + end.max() + lifted.sum(axis=1)

    b = np.broadcast_to(np.exp(end - end.max()), (batch, num_tags))
    sums = np.ones((batch, seq))
    steps[:, seq - 1] = b
    for t in range(seq - 2, -1, -1):
        nxt = (weights[:, t + 1] * b) @ moves.T  # (batch, from)
        norm = nxt.sum(axis=1)
        if t + 1 >= shortest:
            live = mask[:, t + 1]
            norm = np.where(live, norm, 1.0)
            nxt = np.where(live[:, None], nxt, b)
        sums[:, t] = norm
        steps[:, t] = b = nxt / norm[:, None]
    lifted = np.log(sums)
    lifted[:, :-1] += (trans_top + top[:, 1:, 0]) * mask[:, 1:]
    lifted[:, seq - 1] = end.max()
    with np.errstate(divide="ignore"):
        beta = np.log(steps) + np.cumsum(lifted[:, ::-1], axis=1)[:, ::-1, None]
    return ForwardBackward(alpha, beta, log_z)


def path_score(emissions: Array, tags: Array, lengths: Array, crf: CrfScores) -> Array:
    """Unnormalised score of the given ``tags`` (batch, seq) per sentence, (batch,) float64."""
    batch, seq, _ = emissions.shape
    mask = _mask(lengths, seq)
    tags = np.where(mask, tags, 0)
    emitted = np.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0].astype(np.float64)
    moved = crf.transitions[tags[:, :-1], tags[:, 1:]].astype(np.float64)  # (batch, seq - 1)
    last = tags[np.arange(batch), np.asarray(lengths) - 1]  # (batch,)
    inner = (emitted * mask).sum(axis=1) + (moved * mask[:, 1:]).sum(axis=1)
    return crf.start[tags[:, 0]] + inner + crf.end[last]  # type: ignore[no-any-return]


def span_log_prob(
    fb: ForwardBackward, row: int, emissions: Array, crf: CrfScores, start: int, tags: list[int]
) -> float:
    """Log-probability that sentence ``row`` has exactly ``tags`` at ``start``, ``start+1``, ...

    ``emissions`` and ``crf`` must be the ones (temperature included) that ``fb`` was computed from.
    """
    score = float(fb.alpha[row, start, tags[0]])
    for offset in range(1, len(tags)):
        prev, cur = tags[offset - 1], tags[offset]
        score += float(crf.transitions[prev, cur]) + float(emissions[row, start + offset, cur])
    return score + float(fb.beta[row, start + len(tags) - 1, tags[-1]]) - float(fb.log_z[row])
