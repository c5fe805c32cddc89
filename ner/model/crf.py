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
        if t < shortest:  # every sentence is still going
            path[:, t] = current
            if t:
                current = pointers[t, current, flat]
            continue
        live = t <= ends
        path[live, t] = current[live]
        current = np.where(live, pointers[t, current, flat], current)
    return path


@dataclass
class ForwardBackward:
    """The forward and backward recursions of a batch (float64), kept as each step left them: rescaled
    to sum to one, with the logarithm of the scale carried aside. For sentence ``b`` at step ``t``,
    log alpha[b, t, k] = log(forward[t, b, k]) + forward_log[t, b], the log-sum of the prefixes ending
    in tag ``k``, emission included; log beta likewise, the log-sum of the suffixes after tag ``k``,
    end score included. Logarithms of whole arrays are taken only when asked for."""

    forward: Array  # (seq, batch, num_tags)
    forward_log: Array  # (seq, batch)
    backward: Array  # (seq, batch, num_tags)
    backward_log: Array  # (seq, batch)
    log_z: Array  # (batch,)

    @property
    def alpha(self) -> Array:
        """log alpha, (batch, seq, num_tags)."""
        with np.errstate(divide="ignore"):  # log(0) = -inf for a forbidden tag is wanted
            logs: Array = np.log(self.forward) + self.forward_log[:, :, None]
        return logs.transpose(1, 0, 2)

    @property
    def beta(self) -> Array:
        """log beta, (batch, seq, num_tags)."""
        with np.errstate(divide="ignore"):
            logs: Array = np.log(self.backward) + self.backward_log[:, :, None]
        return logs.transpose(1, 0, 2)

    def marginals(self) -> Array:
        """P(tag at t = k), (batch, seq, num_tags); rows past a sentence's end are meaningless."""
        return np.exp(self.alpha + self.beta - self.log_z[:, None, None])  # type: ignore[no-any-return]


def forward_backward(emissions: Array, lengths: Array, crf: CrfScores) -> ForwardBackward:
    """Run the forward and backward recursions over a batch (arguments as :func:`viterbi`).

    Steps run over the sequence first, as in :func:`viterbi`, so that each step reads and writes
    contiguous (batch, num_tags) arrays.
    """
    batch, seq, num_tags = emissions.shape
    lengths = np.asarray(lengths)
    live = np.arange(seq)[:, None] < lengths[None, :]  # (seq, batch)
    emit = np.ascontiguousarray(emissions.transpose(1, 0, 2), dtype=np.float64)  # (seq, batch, tags)
    top = emit.max(axis=2)  # (seq, batch)
    weights = np.exp(emit - top[:, :, None])  # each row's largest is 1
    trans = crf.transitions.astype(np.float64)
    trans_top = float(trans.max())
    moves = np.exp(trans - trans_top)  # (from, to)
    start, end = crf.start.astype(np.float64), crf.end.astype(np.float64)
    ones = np.ones(num_tags)

    # Each step keeps the rescaled vector and the sum the rescaling divided out; the logarithms are
    # taken once at the end, over whole arrays. Past a sentence's end the vector stays as it was and
    # the sum is 1 (log 0). Steps before the shortest sentence's end need no such care.
    shortest = int(lengths.min())
    forward = np.empty((seq, batch, num_tags))
    sums = np.ones((seq, batch))
    a = np.exp(start - start.max()) * weights[0]  # (batch, tags)
    sums[0] = a @ ones
    a = np.divide(a, sums[0, :, None], out=forward[0])
    for t in range(1, seq):
        nxt = a @ moves
        nxt *= weights[t]
        norm = nxt @ ones  # (batch,)
        if t >= shortest:
            norm = np.where(live[t], norm, 1.0)
            nxt = np.where(live[t, :, None], nxt, a)
        sums[t] = norm
        a = np.divide(nxt, norm[:, None], out=forward[t])
    lift = np.log(sums) + (trans_top + top) * live  # (seq, batch)
    lift[0] += start.max() - trans_top
    forward_log = np.cumsum(lift, axis=0)
    with np.errstate(divide="ignore"):
        log_z = np.log(a @ np.exp(end - end.max())) + end.max() + forward_log[seq - 1]

    backward = np.empty((seq, batch, num_tags))
    sums = np.ones((seq, batch))
    backward[seq - 1] = np.exp(end - end.max())
    b = backward[seq - 1]
    for t in range(seq - 2, -1, -1):
        nxt = (weights[t + 1] * b) @ moves.T  # (batch, from)
        norm = nxt @ ones
        if t + 1 >= shortest:
            norm = np.where(live[t + 1], norm, 1.0)
            nxt = np.where(live[t + 1, :, None], nxt, b)
        sums[t] = norm
        b = np.divide(nxt, norm[:, None], out=backward[t])
    lift = np.log(sums)
    lift[:-1] += (trans_top + top[1:]) * live[1:]
    lift[seq - 1] = end.max()
    backward_log = np.cumsum(lift[::-1], axis=0)[::-1]
    return ForwardBackward(forward, forward_log, backward, backward_log, log_z)


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


def span_log_probs(
    fb: ForwardBackward,
    emissions: Array,
    crf: CrfScores,
    paths: Array,
    rows: Array,
    starts: Array,
    ends: Array,
) -> Array:
    """Log-probability of each span ``i``: that sentence ``rows[i]`` has exactly the tags
    ``paths[rows[i], starts[i]:ends[i]]`` there, (spans,) float64.

    ``paths`` (batch, seq) holds tag indices (anything outside the spans is ignored); ``emissions``
    and ``crf`` must be the ones (temperature included) that ``fb`` was computed from.
    """
    tags = np.maximum(paths, 0)  # (batch, seq); -1 past an end reads tag 0, never used
    last = ends - 1
    first_tag, last_tag = tags[rows, starts], tags[rows, last]
    with np.errstate(divide="ignore"):
        log_alpha = np.log(fb.forward[starts, rows, first_tag]) + fb.forward_log[starts, rows]
        log_beta = np.log(fb.backward[last, rows, last_tag]) + fb.backward_log[last, rows]
    # The path's own score inside each span, from running sums along each sentence:
    # step[b, t] = transitions[tags[b, t - 1], tags[b, t]] + emissions[b, t, tags[b, t]].
    steps = np.zeros(tags.shape)
    steps[:, 1:] = crf.transitions[tags[:, :-1], tags[:, 1:]].astype(np.float64)
    steps[:, 1:] += np.take_along_axis(emissions[:, 1:], tags[:, 1:, None], axis=2)[:, :, 0]
    running = np.cumsum(steps, axis=1)
    inside = running[rows, last] - running[rows, starts]
    return log_alpha + inside + log_beta - fb.log_z[rows]  # type: ignore[no-any-return]
