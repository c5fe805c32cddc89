import pytest
import torch

from ner.encoding.batch import collate
from ner.encoding.encode import Encoder
from ner.encoding.vocab import Vocab, WordVocab
from ner.model.config import ModelConfig, Sizes
from ner.model.network import BiLstmCrf, WordCharGate, recall


def _encoder() -> Encoder:
    return Encoder(
        WordVocab(["paris", "is", "nice", "alice"]),
        Vocab(list("Paristhenicl")),
        Vocab(["O", "B-LOC", "E-LOC", "S-LOC", "I-LOC"], specials=False),
    )


SIZES = Sizes(words=6, chars=14, tags=5)


def _model(cell: str = "lstm", layers: int = 1, combine: str = "concat") -> BiLstmCrf:
    torch.manual_seed(0)
    config = ModelConfig(
        combine=combine,  # type: ignore[arg-type]
        word_dim=6,
        char_dim=4,
        char_filters=5,
        casing_dim=3,
        hidden=7,
        layers=layers,
        cell=cell,  # type: ignore[arg-type]
    )
    return BiLstmCrf(config, SIZES)


def test_every_parameter_gets_a_gradient() -> None:
    for cell, layers, combine in (("lstm", 1, "concat"), ("gru", 2, "concat"), ("lstm", 1, "gate")):
        model = _model(cell, layers, combine)
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


def test_the_gate_mixes_each_dimension_between_the_word_and_its_spelling() -> None:
    torch.manual_seed(0)
    gate = WordCharGate(word_dim=4, char_filters=6)
    words, spelled = torch.randn(3, 5, 4), torch.randn(3, 5, 6)
    with torch.no_grad():
        mixed = gate(words, spelled)
        m = torch.tanh(gate.spell(spelled))
    assert mixed.shape == (3, 5, 4)
    low, high = torch.minimum(words, m), torch.maximum(words, m)
    assert bool(((mixed >= low - 1e-6) & (mixed <= high + 1e-6)).all())
    assert not torch.allclose(mixed, words) and not torch.allclose(mixed, m)  # neither side alone
    model = _model(combine="gate")
    assert model.rnn.input_size == 6 + 3  # the mix (word_dim) and casing: the characters are inside


@pytest.mark.parametrize("window", [1, 3, 5])
def test_char_cnn_lookups_in_eval_equal_the_convolution(window: int) -> None:
    torch.manual_seed(window)
    model = BiLstmCrf(ModelConfig(char_dim=4, char_window=window), SIZES)
    cnn = model.char_cnn
    # words of 1 to 7 characters, an all-padding row, and a word padded to the batch's longest
    chars = torch.tensor([[0] * 7, [3, 0, 0, 0, 0, 0, 0], [2, 5, 0, 0, 0, 0, 0], list(range(1, 8)), [4] * 7])
    chars[4, 5:] = 0
    with torch.no_grad():
        by_conv = cnn.train()(chars)
        by_lookup = cnn.eval()(chars)
    assert by_lookup.shape == (5, model.config.char_filters)
    assert torch.equal(by_lookup[0], torch.zeros(model.config.char_filters))
    assert torch.allclose(by_lookup, by_conv, atol=1e-5)


def test_char_cnn_lookups_keep_gradients_flowing() -> None:
    # eval mode with gradients on (as an attribution tool would run it) still reaches the weights,
    # even after a call without gradients remembered the lookup tables
    model = _model().eval()
    with torch.no_grad():
        model.char_cnn(torch.tensor([[3, 4, 5]]))
    pooled = model.char_cnn(torch.tensor([[3, 4, 5], [6, 0, 0]]))
    pooled.sum().backward()
    assert model.char_cnn.embed.weight.grad is not None and model.char_cnn.conv.weight.grad is not None


def test_unpacked_lstm_for_tagging_equals_packed(monkeypatch: pytest.MonkeyPatch) -> None:
    import ner.model.network

    model = _model().eval()
    enc = _encoder()
    sentences = [["Paris", "is", "nice", "Alice"], ["Alice", "is"], ["nice"], ["Paris", "is", "nice"]]
    batch = collate([enc.encode(s) for s in sentences])
    results = {}
    monkeypatch.setattr(ner.model.network, "FEW_SENTENCES", 2)  # four sentences: the fill decides
    for threshold, path in ((0.0, "unpacked"), (1.1, "packed")):
        monkeypatch.setattr(ner.model.network, "MOSTLY_FULL", threshold)
        assert model._unpacked_is_faster(torch.zeros(4, 4, 1), batch.lengths) == (path == "unpacked")
        with torch.no_grad():
            results[path] = model.emissions(batch)
    assert torch.allclose(results["unpacked"], results["packed"], atol=1e-6)
    monkeypatch.setattr(ner.model.network, "FEW_SENTENCES", 4)
    assert model._unpacked_is_faster(torch.zeros(4, 4, 1), batch.lengths)  # few sentences: unpacked
    model.train()  # training keeps the packed LSTM
    assert not model._unpacked_is_faster(torch.zeros(4, 4, 1), batch.lengths)


def test_remembered_tables_and_transitions_follow_weight_changes() -> None:
    model = _model().eval()
    chars = torch.tensor([[3, 4, 5], [6, 2, 0]])
    with torch.no_grad():
        before = model.char_cnn(chars)
        scores = model.transitions()
        assert model.transitions() is scores  # remembered
        model.char_cnn.conv.weight.mul_(2.0)  # in place, as an optimizer step writes
        model.crf.transitions.add_(1.0)
        after = model.char_cnn(chars)
    assert not torch.allclose(after, before)
    assert torch.allclose(after, model.char_cnn.train()(chars), atol=1e-5)  # the convolution agrees
    again = model.transitions()
    assert again is not scores and not (again.transitions == scores.transitions).all()
    assert not again.transitions.flags.writeable  # shared between calls, so read-only
    # a step of an optimizer counts too
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    batch = collate([_encoder().encode(["Paris", "is"], ["S-LOC", "O"])])
    assert batch.tags is not None
    model.loss(batch, batch.tags).backward()
    optimizer.step()
    assert not (model.transitions().start == again.start).all()


def test_training_only_the_seen_word_rows_changes_nothing_but_the_cost() -> None:
    """Words 2-3 are in the batches, 4-5 never: NAdam with the unseen rows frozen takes the same steps."""
    enc = _encoder()
    batches = [
        collate([enc.encode(["paris", "is"], ["S-LOC", "O"]), enc.encode(["is"], ["O"])]),
        collate([enc.encode(["is", "paris", "is"], ["O", "S-LOC", "O"])]),
    ]
    results = []
    for freeze in (False, True):
        model = _model()
        model.train()
        if freeze:
            model.freeze_words_except(torch.tensor([1, 2, 3]))
        optimizer = torch.optim.NAdam(model.parameters(), lr=0.01)
        for step in range(4):
            torch.manual_seed(step)  # the same dropout masks in both runs
            batch = batches[step % 2]
            assert batch.tags is not None
            optimizer.zero_grad()
            model.loss(batch, batch.tags).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        results.append(model.state_dict())
    plain, frozen = results
    assert plain.keys() == frozen.keys()
    for key in plain:
        assert torch.allclose(plain[key], frozen[key], atol=1e-6), key
    untouched = _model().word_embed.weight
    assert torch.equal(frozen["word_embed.weight"][4:], untouched[4:].detach())  # never seen, never moved
    assert not torch.allclose(frozen["word_embed.weight"][2], untouched[2])  # seen and trained
    reloaded = _model()
    reloaded.freeze_words_except(torch.tensor([1, 2, 3]))
    reloaded.load_state_dict(frozen)  # the plain format loads into the partly frozen module
    assert torch.equal(reloaded.state_dict()["word_embed.weight"], frozen["word_embed.weight"])


def test_recall_averages_the_other_capitalised_occurrences_in_the_same_block() -> None:
    enc = _encoder()
    sentences = [["Paris", "is", "PARIS"], ["Paris", "Alice"], ["Paris", "Zork"]]  # Zork: <unk>
    batch = collate([enc.encode(s) for s in sentences], groups=[0, 0, 1])
    h = torch.randn(3, 3, 4)
    out = recall(h, batch)
    assert torch.allclose(out[0, 0], (h[0, 2] + h[1, 0]) / 2)  # "PARIS" and "Paris" are one word
    assert torch.allclose(out[0, 2], (h[0, 0] + h[1, 0]) / 2)
    assert torch.allclose(out[1, 0], (h[0, 0] + h[0, 2]) / 2)
    zero = torch.zeros(4)
    for b, t in ((0, 1), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)):  # lower case, seen once, padding,
        assert torch.equal(out[b, t], zero), (b, t)  # another block, <unk>, padding
    batch.groups = None  # each sentence a block of its own: only "Paris ... PARIS" meet
    alone = recall(h, batch)
    assert torch.allclose(alone[0, 0], h[0, 2]) and torch.equal(alone[1, 0], zero)


def test_a_memory_model_reads_its_block_and_trains_every_parameter() -> None:
    torch.manual_seed(0)
    config = ModelConfig(word_dim=6, char_dim=4, char_filters=5, hidden=7, memory=32)
    model = BiLstmCrf(config, SIZES)
    enc = _encoder()
    encoded = [enc.encode(["Paris", "is", "nice"], ["S-LOC", "O", "O"]), enc.encode(["Paris"], ["S-LOC"])]
    batch = collate(encoded, groups=[0, 0])
    assert batch.tags is not None
    model.loss(batch, batch.tags).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        together = model.emissions(collate(encoded, groups=[0, 0]))
        apart = model.emissions(collate(encoded, groups=[0, 1]))
    assert not torch.allclose(together[1, 0], apart[1, 0])  # "Paris" recalls the other one
    assert torch.allclose(together[0, 1], apart[0, 1])  # "is" (lower case) recalls nothing


def test_distilled_loss_with_the_gold_tags_as_teacher_is_the_loss() -> None:
    model = _model().eval()
    enc = _encoder()
    batch = collate([enc.encode(["Paris", "is", "nice"], ["S-LOC", "O", "O"]), enc.encode(["Alice"], ["O"])])
    assert batch.tags is not None
    gold = torch.nn.functional.one_hot(batch.tags, 5).float()  # (batch, seq, num_tags)
    for weight in (0.0, 0.5, 1.0):
        distilled = model.distilled_loss(batch, batch.tags, gold, weight)
        assert torch.allclose(distilled, model.loss(batch, batch.tags), atol=1e-5)


def test_distilled_loss_is_the_cross_entropy_over_every_path() -> None:
    """Against brute force: -sum over all paths y of prod_t q_t(y_t) * log p(y | x)."""
    import itertools

    model = _model().eval()
    enc = _encoder()
    batch = collate([enc.encode(["Paris", "is", "nice"], ["S-LOC", "O", "O"])])
    assert batch.tags is not None
    torch.manual_seed(3)
    soft = torch.softmax(torch.randn(1, 3, 5), dim=2)  # (batch, seq, num_tags)
    with torch.no_grad():
        emissions = model.emissions(batch)  # (1, 3, 5)
        expected = 0.0
        for path in itertools.product(range(5), repeat=3):
            tags = torch.tensor([path])
            log_p = model.crf(emissions, tags, mask=batch.mask, reduction="sum")
            q = soft[0, 0, path[0]] * soft[0, 1, path[1]] * soft[0, 2, path[2]]
            expected -= float(q * log_p)
        got = model.distilled_loss(batch, batch.tags, soft, 1.0)
    assert abs(float(got) - expected) < 1e-4
