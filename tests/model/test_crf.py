"""Batched Viterbi and forward-backward against brute-force enumeration on a tiny CRF."""

import itertools

import numpy as np
import torch
from torchcrf import CRF

from ner.model.crf import CrfScores, forward_backward, path_score, span_log_probs, viterbi


def _setup(seed: int = 0, batch: int = 3, seq: int = 4, tags: int = 3):
    rng = np.random.default_rng(seed)
    emissions = rng.normal(size=(batch, seq, tags)).astype(np.float32)
    lengths = np.array([seq, 2, 1][:batch])
    scores = CrfScores(*(rng.normal(size=shape).astype(np.float32) for shape in [tags, (tags, tags), tags]))
    return emissions, lengths, scores


def _path_score(e: np.ndarray, path: tuple[int, ...], s: CrfScores) -> float:
    total = float(s.start[path[0]] + e[0, path[0]])
    for t in range(1, len(path)):
        total += float(s.transitions[path[t - 1], path[t]] + e[t, path[t]])
    return total + float(s.end[path[-1]])


def _all_paths(e: np.ndarray, n: int, s: CrfScores) -> dict[tuple[int, ...], float]:
    return {p: _path_score(e, p, s) for p in itertools.product(range(e.shape[1]), repeat=n)}


def _log_z(paths: dict[tuple[int, ...], float]) -> float:
    return float(np.logaddexp.reduce(np.array(list(paths.values()))))


def test_viterbi_matches_brute_force_and_pytorch_crf() -> None:
    emissions, lengths, scores = _setup()
    best = viterbi(emissions, lengths, scores)
    crf = CRF(3, batch_first=True)
    crf.start_transitions.data = torch.from_numpy(scores.start)
    crf.transitions.data = torch.from_numpy(scores.transitions)
    crf.end_transitions.data = torch.from_numpy(scores.end)
    mask = torch.arange(4)[None, :] < torch.from_numpy(lengths)[:, None]
    theirs = crf.decode(torch.from_numpy(emissions), mask)
    for b, n in enumerate(lengths.tolist()):
        paths = _all_paths(emissions[b], n, scores)
        assert tuple(best[b, :n].tolist()) == max(paths, key=paths.__getitem__)
        assert best[b, :n].tolist() == theirs[b]
        assert (best[b, n:] == -1).all()


def test_viterbi_of_a_sentence_alone_equals_inside_a_batch() -> None:
    emissions, lengths, scores = _setup(seed=4, batch=3, seq=4, tags=5)
    together = viterbi(emissions, lengths, scores)
    for b, n in enumerate(lengths.tolist()):
        alone = viterbi(emissions[b : b + 1, :n], lengths[b : b + 1], scores)
        assert alone[0].tolist() == together[b, :n].tolist()


def test_marginals_sum_to_one_and_match_brute_force() -> None:
    emissions, lengths, scores = _setup(seed=1)
    fb = forward_backward(emissions, lengths, scores)
    marginals = fb.marginals()
    for b, n in enumerate(lengths.tolist()):
        paths = _all_paths(emissions[b], n, scores)
        log_z = _log_z(paths)
        assert abs(fb.log_z[b] - log_z) < 1e-5
        expected = np.zeros((n, 3))
        for p, score in paths.items():
            for t, k in enumerate(p):
                expected[t, k] += np.exp(score - log_z)
        np.testing.assert_allclose(marginals[b, :n], expected, atol=1e-6)
        np.testing.assert_allclose(marginals[b, :n].sum(axis=1), np.ones(n), atol=1e-6)


def test_forward_backward_survives_extreme_and_forbidden_scores() -> None:
    emissions, lengths, scores = _setup(seed=5)
    emissions = emissions * 500  # rows spanning hundreds: exp() would overflow without rescaling
    scores.transitions[0, 1] = -10000.0  # a forbidden move
    fb = forward_backward(emissions, lengths, scores)
    assert np.isfinite(fb.log_z).all()
    marginals = fb.marginals()
    for b, n in enumerate(lengths.tolist()):
        np.testing.assert_allclose(marginals[b, :n].sum(axis=1), np.ones(n), atol=1e-6)
        assert abs(fb.log_z[b] - _log_z(_all_paths(emissions[b], n, scores))) < 1e-3


def test_span_probability_matches_brute_force() -> None:
    emissions, lengths, scores = _setup(seed=2)
    fb = forward_backward(emissions, lengths, scores)
    paths = _all_paths(emissions[0], 4, scores)
    log_z = _log_z(paths)
    spans = [(1, [2, 0]), (0, [1]), (2, [0, 1]), (0, [2, 2, 1, 0])]
    for start, tags in spans:
        want = sum(np.exp(s - log_z) for p, s in paths.items() if list(p[start : start + len(tags)]) == tags)
        path = np.full((3, 4), -1)
        path[0, start : start + len(tags)] = tags
        (got,) = span_log_probs(
            fb, emissions, scores, path, np.array([0]), np.array([start]), np.array([start + len(tags)])
        )
        assert abs(np.exp(got) - want) < 1e-6


def test_path_score_matches_brute_force() -> None:
    emissions, lengths, scores = _setup(seed=3)
    tags = np.array([[0, 2, 1, 1], [1, 0, 0, 0], [2, 0, 0, 0]])
    got = path_score(emissions, tags, lengths, scores)
    for b, n in enumerate(lengths.tolist()):
        want = _path_score(emissions[b], tuple(tags[b, :n].tolist()), scores)
        assert abs(float(got[b]) - want) < 1e-5


def test_viterbi_breaks_ties_towards_the_lowest_tag() -> None:
    # every path scores the same: the answer must still be one fixed path, the same alone and batched
    zeros = CrfScores(np.zeros(4, np.float32), np.zeros((4, 4), np.float32), np.zeros(4, np.float32))
    emissions = np.zeros((3, 5, 4), np.float32)
    path = viterbi(emissions, np.array([5, 3, 1]), zeros)
    assert path.tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, -1, -1], [0, -1, -1, -1, -1]]
    emissions[:, :, 2] = 1.0  # a tie between tags 2 and 3 only
    emissions[:, :, 3] = 1.0
    assert viterbi(emissions, np.array([5, 3, 1]), zeros)[0].tolist() == [2, 2, 2, 2, 2]
