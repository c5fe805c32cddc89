"""The weight average and sentence-wise dropout (:mod:`ner.training.regularizers`)."""

from dataclasses import replace

import torch

from ner.training.regularizers import SentenceDropout
from tests.conftest import TINY_TRAIN

SHORT = replace(TINY_TRAIN, epochs=4, unk_replace=0.5)


def test_weight_average_follows_the_parameters_and_swaps_them_back() -> None:
    from ner.training.regularizers import WeightAverage

    p = torch.nn.Parameter(torch.zeros(3))
    average = WeightAverage([p], decay=0.5)
    expected = torch.zeros(3)
    for step, value in enumerate([4.0, 8.0, 2.0], start=1):
        p.data.fill_(value)
        average.update()
        decay = min(0.5, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
    assert torch.allclose(average.shadow[0], expected)
    with average.applied():
        assert torch.allclose(p.data, expected)
    assert torch.equal(p.data, torch.full((3,), 2.0))  # the live weights are back
    copy = WeightAverage([torch.nn.Parameter(torch.zeros(3))], decay=0.5)
    copy.load_state_dict(average.state_dict())
    assert copy.steps == 3 and torch.equal(copy.shadow[0], average.shadow[0])


def test_sentence_dropout_keeps_or_drops_each_feature_for_the_whole_sentence() -> None:
    torch.manual_seed(0)
    dropout = SentenceDropout(0.5)
    x = torch.ones(4, 9, 16)
    out = dropout(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same mask at every token
    assert not torch.equal(out[0], out[1])  # a mask per sentence
    assert torch.equal(dropout.eval()(x), x)  # nothing at tagging time
