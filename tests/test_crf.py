"""Batched Viterbi and forward-backward against brute-force enumeration on a tiny CRF."""

import itertools

import torch
from torchcrf import CRF

from ner.crf import CrfScores, forward_backward, span_log_prob, viterbi


def _setup(seed: int = 0, batch: int = 3, seq: int = 4, tags: int = 3):
    torch.manual_seed(seed)
    emissions = torch.randn(batch, seq, tags)
    lengths = torch.tensor([seq, 2, 1][:batch])
    mask = torch.arange(seq)[None, :] < lengths[:, None]
    scores = CrfScores(torch.randn(tags), torch.randn(tags, tags), torch.randn(tags))
    return emissions, mask, lengths, scores


def _path_score(e: torch.Tensor, path: tuple[int, ...], s: CrfScores) -> float:
    total = s.start[path[0]] + e[0, path[0]]
    for t in range(1, len(path)):
        total = total + s.transitions[path[t - 1], path[t]] + e[t, path[t]]
    return float(total + s.end[path[-1]])


def _all_paths(e: torch.Tensor, n: int, s: CrfScores) -> dict[tuple[int, ...], float]:
    return {p: _path_score(e, p, s) for p in itertools.product(range(e.shape[1]), repeat=n)}


def test_viterbi_matches_brute_force_and_pytorch_crf() -> None:
    emissions, mask, lengths, scores = _setup()
    best = viterbi(emissions, mask, scores)
    crf = CRF(3, batch_first=True)
    crf.start_transitions.data, crf.transitions.data, crf.end_transitions.data = (
        scores.start,
        scores.transitions,
        scores.end,
    )
    theirs = crf.decode(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        paths = _all_paths(emissions[b], n, scores)
        assert tuple(best[b, :n].tolist()) == max(paths, key=paths.__getitem__)
        assert best[b, :n].tolist() == theirs[b]


def test_marginals_sum_to_one_and_match_brute_force() -> None:
    emissions, mask, lengths, scores = _setup(seed=1)
    fb = forward_backward(emissions, mask, scores)
    marginals = fb.marginals()
    for b, n in enumerate(lengths.tolist()):
        paths = _all_paths(emissions[b], n, scores)
        log_z = torch.logsumexp(torch.tensor(list(paths.values())), 0)
        assert torch.allclose(fb.log_z[b], log_z, atol=1e-5)
        expected = torch.zeros(n, 3)
        for p, score in paths.items():
            for t, k in enumerate(p):
                expected[t, k] += torch.exp(torch.tensor(score) - log_z)
        assert torch.allclose(marginals[b, :n], expected, atol=1e-5)
        assert torch.allclose(marginals[b, :n].sum(dim=1), torch.ones(n), atol=1e-5)


def test_span_probability_matches_brute_force() -> None:
    emissions, mask, _, scores = _setup(seed=2)
    fb = forward_backward(emissions, mask, scores)
    paths = _all_paths(emissions[0], 4, scores)
    log_z = float(torch.logsumexp(torch.tensor(list(paths.values())), 0))
    for start, tags in [(1, [2, 0]), (0, [1]), (2, [0, 1])]:
        want = sum(
            torch.exp(torch.tensor(s - log_z)).item()
            for p, s in paths.items()
            if list(p[start : start + len(tags)]) == tags
        )
        got = span_log_prob(
            fb.alpha[0].tolist(),
            fb.beta[0].tolist(),
            emissions[0].tolist(),
            scores.transitions.tolist(),
            float(fb.log_z[0]),
            start,
            tags,
        )
        assert abs(torch.exp(torch.tensor(got)).item() - want) < 1e-5


def test_path_score_matches_brute_force() -> None:
    from ner.crf import path_score

    emissions, mask, lengths, scores = _setup(seed=3)
    tags = torch.tensor([[0, 2, 1, 1], [1, 0, 0, 0], [2, 0, 0, 0]])
    got = path_score(emissions, tags, mask, scores)
    for b, n in enumerate(lengths.tolist()):
        want = _path_score(emissions[b], tuple(tags[b, :n].tolist()), scores)
        assert abs(float(got[b]) - want) < 1e-5
