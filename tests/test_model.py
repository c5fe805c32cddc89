import torch

from ner.batch import Encoder, collate
from ner.model import BiLstmCrf, ModelConfig
from ner.vocab import Vocab, WordVocab


def _encoder() -> Encoder:
    return Encoder(
        WordVocab(["paris", "is", "nice", "alice"]),
        Vocab(list("Paristhenicl")),
        Vocab(["O", "B-LOC", "E-LOC", "S-LOC", "I-LOC"], specials=False),
    )


def _model(cell: str = "lstm", layers: int = 1) -> BiLstmCrf:
    torch.manual_seed(0)
    config = ModelConfig(
        num_words=6,
        num_chars=14,
        num_tags=5,
        word_dim=6,
        char_dim=4,
        char_filters=5,
        casing_dim=3,
        hidden=7,
        layers=layers,
        cell=cell,  # type: ignore[arg-type]
    )
    return BiLstmCrf(config)


def test_every_parameter_gets_a_gradient() -> None:
    for cell, layers in (("lstm", 1), ("gru", 2)):
        model = _model(cell, layers)
        enc = _encoder()
        batch = collate(
            [enc.encode(["Paris", "is", "nice"], ["S-LOC", "O", "O"]), enc.encode(["Alice"], ["O"])]
        )
        assert batch.tags is not None
        model.loss(batch, batch.tags).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_sentence_alone_and_in_a_padded_batch_score_the_same() -> None:
    model = _model().eval()
    enc = _encoder()
    short = enc.encode(["Alice", "is"])
    long = enc.encode(["Paris", "is", "nice", "Paris", "is"])
    with torch.no_grad():
        alone = model.emissions(collate([short]))  # (1, 2, 5)
        batched = model.emissions(collate([long, short]))  # (2, 5, 5)
    assert torch.allclose(alone[0], batched[1, :2], atol=1e-6)
