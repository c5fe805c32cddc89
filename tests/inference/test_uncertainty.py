"""How unsure the model is of a document (:mod:`ner.inference.uncertainty`)."""

import math

import numpy as np

from ner.inference.tagger import Tagger
from ner.inference.uncertainty import path_log_probs, uncertainty
from ner.model import crf
from tests.conftest import SENTENCES


def test_the_best_paths_probability_agrees_with_the_sum_over_every_path(tagger: Tagger) -> None:
    """log P(best) from the forward algorithm against enumerating every tagging of a short sentence."""
    sentence = ["Alice", "met", "Bob"]
    (logp,) = path_log_probs(tagger, [sentence])
    emissions, lengths = tagger.emissions([sentence])
    t = tagger.temperature
    scores = tagger.crf_scores().scaled(t)
    scaled = emissions.astype(np.float64) / t
    n = scaled.shape[2]
    every = [
        float(crf.path_score(scaled, np.array([[a, b, c]]), lengths, scores)[0])
        for a in range(n)
        for b in range(n)
        for c in range(n)
    ]
    assert math.isclose(logp, max(every) - float(np.logaddexp.reduce(every)), abs_tol=1e-6)


def test_known_text_is_surer_than_noise_and_empty_is_zero(tagger: Tagger) -> None:
    known = [[w for w, _ in SENTENCES[0]]]
    noise = [["Qzxv", "Blorft", "Kwimmel", "Zrrp", "Vlaxo"]]
    scores = uncertainty(tagger, [known, noise, [], [[]]])
    assert 0 <= scores[0] < scores[1] < 1
    assert scores[2:] == [0.0, 0.0]


def test_documents_read_with_memory_score_each_document_alone(memory_tagger: Tagger) -> None:
    from tests.conftest import DOCUMENTS

    documents = [[[w for w, _ in s] for s in d] for d in DOCUMENTS]
    together = uncertainty(memory_tagger, documents)
    alone = [uncertainty(memory_tagger, [d])[0] for d in documents]
    np.testing.assert_allclose(together, alone, atol=1e-6)  # a document's score never hangs on others
