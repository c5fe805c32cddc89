import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ner.inference.tagger import Tagger
from ner.text.conll import Corpus, read_conll
from ner.training.config import TrainConfig
from ner.training.embeddings import Vectors, load_vectors
from ner.training.train import EpochRecord, History, Interrupted, resume_path, train
from tests.conftest import TINY_MODEL, TINY_TRAIN

SHORT = replace(TINY_TRAIN, epochs=4, unk_replace=0.5)


def _run(
    data_dir: Path, out: Path, progress: object = None, resume: bool = False, config: TrainConfig = SHORT
) -> list[float]:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    history = train(
        TINY_MODEL,
        config,
        corpus,
        corpus,
        vectors,
        out,
        torch.device("cpu"),
        progress,
        resume,  # type: ignore[arg-type]
    )
    return [r.loss for r in history.epochs]


def _train_with_memory(config: TrainConfig, corpus: Corpus, vectors: Vectors, out: Path) -> History:
    """The tiny model with document memory, trained and checked on ``corpus``."""
    from tests.conftest import MEMORY

    return train({**TINY_MODEL, "memory": MEMORY}, config, corpus, corpus, vectors, out, torch.device("cpu"))


def test_seeded_runs_are_identical_and_write_metrics(data_dir: Path, tmp_path: Path) -> None:
    first = _run(data_dir, tmp_path / "a.pt")
    second = _run(data_dir, tmp_path / "b.pt")
    assert first == second
    metrics = json.loads((tmp_path / "a.metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4]
    assert (tmp_path / "a.curve.png").stat().st_size > 0
    assert not resume_path(tmp_path / "a.pt").exists()  # a finished run leaves no resume state


class _InterruptAt:
    def __init__(self, epoch: int) -> None:
        self.epoch = 0
        self.stop_at = epoch

    def start_epoch(self, epoch: int, batches: int) -> None:
        self.epoch = epoch

    def batch(self, loss: float) -> None:
        if self.epoch == self.stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    def end_epoch(self, record: EpochRecord, best: bool) -> None:
        pass


def test_sigint_keeps_best_checkpoint_and_resume_carries_on(data_dir: Path, tmp_path: Path) -> None:
    expected = _run(data_dir, tmp_path / "full.pt")
    out = tmp_path / "m.pt"
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup ... &
    with pytest.raises(Interrupted, match="signal 2 during epoch 3"):
        _run(data_dir, out, _InterruptAt(3))
    assert resume_path(out).exists()
    stopped = Tagger.load(out, "cpu")
    assert stopped.metadata["epoch"] <= 2
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    resumed = _run(data_dir, out, resume=True)
    assert resumed == expected  # same losses as the run that was never interrupted
    assert not resume_path(out).exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_the_gpu_and_the_checkpoint_loads_on_the_cpu(data_dir: Path, tmp_path: Path) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    out = tmp_path / "gpu.pt"
    history = train(TINY_MODEL, SHORT, corpus, corpus, vectors, out, torch.device("cuda"))
    assert len(history.epochs) == SHORT.epochs and history.epochs[-1].loss < history.epochs[0].loss
    tagger = Tagger.load(out, "cpu")
    assert len(tagger.tag([["Alice", "visited", "Paris", "."]])[0]) == 4


def test_a_context_model_trains_on_document_windows(data_dir: Path, tmp_path: Path) -> None:
    from ner.text.conll import read_conll
    from ner.training.data import training_examples

    corpus = read_conll(data_dir / "train.txt")
    windows = training_examples(corpus, "iobes", 12)
    assert sum(len(t) for t, _ in windows) == sum(len(s.tokens) for s in corpus.sentences)
    assert len(windows) < len(corpus.sentences) and all(len(t) == len(tags) for t, tags in windows)
    assert all(len(t) <= 12 for t, _ in windows)
    out = tmp_path / "context.pt"
    vectors = load_vectors(str(data_dir / "glove.txt"))
    train({**TINY_MODEL, "context": 12}, SHORT, corpus, corpus, vectors, out, torch.device("cpu"))
    tagger = Tagger.load(out, "cpu")
    assert tagger.context == 12 and tagger.config.context == 12


@pytest.mark.parametrize("dropout", [0.0, 0.5, 1.0])
def test_memory_dropout_reads_whole_blocks_as_lone_sentences(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dropout: float
) -> None:
    """memory_dropout is the share of blocks whose sentences each recall only themselves in an
    epoch: 0 keeps every block's number, 1 gives every sentence a number of its own."""
    import ner.training.data
    import ner.training.train
    from tests.conftest import DOCUMENTS, MEMORY, write_documents

    corpus = read_conll(write_documents(tmp_path / "documents.txt", DOCUMENTS * 4))
    blocks = ner.training.data.memory_blocks(corpus, MEMORY)
    assert blocks is not None and len(blocks) >= 8
    block_of = {i: b for b, block in enumerate(blocks) for i in block}
    groups: list[int] = []  # the group of every sentence of every batch
    collate = ner.training.train.collate

    def recording(sentences, groups_of=None):  # type: ignore[no-untyped-def]
        batch = collate(sentences, groups_of)
        groups.extend(groups_of)
        return batch

    monkeypatch.setattr(ner.training.train, "collate", recording)
    config = replace(TINY_TRAIN, epochs=2, memory_dropout=dropout)
    vectors = load_vectors(str(data_dir / "glove.txt"))
    model = {**TINY_MODEL, "memory": MEMORY}
    train(model, config, corpus, corpus, vectors, tmp_path / "m.pt", torch.device("cpu"))
    assert len(groups) == 2 * len(corpus.sentences)  # two epochs
    alone = [g < 0 for g in groups]
    if dropout == 0.0:
        assert not any(alone) and set(groups) == set(block_of.values())
    elif dropout == 1.0:
        assert all(alone) and len(set(groups)) == len(corpus.sentences)  # one per sentence
    else:
        assert 0 < sum(alone) < len(groups)


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_lowercase_reads_that_share_of_sentences_in_lower_case(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float
) -> None:
    """lowercase is the chance that a training sentence is read lower-cased in an epoch: its words
    and tags stay, its casing classes become those of lower-cased tokens."""
    import ner.training.data
    import ner.training.train
    from ner.encoding.encode import casing

    corpus = read_conll(data_dir / "train.txt")
    capitals = {casing("Word"), casing("WORD")}
    capitalised = [s for s in corpus.sentences if any(casing(t) in capitals for t in s.tokens)]
    read: list[tuple[list[int], list[int]]] = []  # (words, casing) of each sentence trained on
    collate = ner.training.train.collate

    def recording(sentences, groups_of=None):  # type: ignore[no-untyped-def]
        read.extend((e.words, e.casing) for e in sentences)
        return collate(sentences, groups_of)

    monkeypatch.setattr(ner.training.train, "collate", recording)
    config = replace(TINY_TRAIN, epochs=2, lowercase=share)
    vectors = load_vectors(str(data_dir / "glove.txt"))
    train(TINY_MODEL, config, corpus, corpus, vectors, tmp_path / "m.pt", torch.device("cpu"))
    assert len(read) == 2 * len(corpus.sentences) and capitalised  # capitals to lose
    with_capitals = sum(any(c in capitals for c in cased) for _, cased in read)
    if share == 0.0:
        assert with_capitals == 2 * len(capitalised)
    elif share == 1.0:
        assert with_capitals == 0
    else:
        assert 0 < with_capitals < 2 * len(capitalised)
    encoder = ner.training.data.build_vocabs(corpus, vectors, TINY_TRAIN.glove_limit, TINY_TRAIN.scheme)[0]
    words = sorted(encoder.encode(s.tokens).words for s in corpus.sentences)
    assert sorted(w for w, _ in read) == sorted(words * 2)  # the same words either way


def test_lowercase_with_memory_lowers_whole_blocks(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With document memory, a block is read lower-cased or not as a whole (a text has capitals or
    it has none), so the memory of the other blocks learns from text as it comes."""
    import ner.training.data
    import ner.training.train
    from ner.encoding.encode import casing
    from tests.conftest import DOCUMENTS, write_documents

    corpus = read_conll(write_documents(tmp_path / "documents.txt", DOCUMENTS * 4))
    capitals = {casing("Word"), casing("WORD")}
    has_capitals = {tuple(s.tokens): any(casing(t) in capitals for t in s.tokens) for s in corpus.sentences}
    assert all(has_capitals.values())  # every sentence of the fixture has a name
    per_block: list[set[bool]] = []  # for each block read: whether its sentences kept their capitals
    collate = ner.training.train.collate

    def recording(sentences, groups_of=None):  # type: ignore[no-untyped-def]
        kept: dict[int, set[bool]] = {}
        for e, group in zip(sentences, groups_of, strict=True):
            kept.setdefault(group, set()).add(any(c in capitals for c in e.casing))
        per_block.extend(kept.values())
        return collate(sentences, groups_of)

    monkeypatch.setattr(ner.training.train, "collate", recording)
    config = replace(TINY_TRAIN, epochs=3, memory_dropout=0.0, lowercase=0.5)
    vectors = load_vectors(str(data_dir / "glove.txt"))
    _train_with_memory(config, corpus, vectors, tmp_path / "m.pt")
    assert all(len(kept) == 1 for kept in per_block)  # never half a block
    assert {True, False} == {kept for block in per_block for kept in block}  # some blocks of each


def test_a_memory_model_trains_and_keeps_its_setting(memory_tagger: Tagger) -> None:
    from tests.conftest import MEMORY

    assert memory_tagger.memory == MEMORY and memory_tagger.config.memory == MEMORY
    assert memory_tagger.metadata["dev_scores"]["overall"]["f1"] > 50  # it learnt the two documents


def test_with_weight_average_the_checkpoint_holds_the_average_and_resume_carries_on(
    data_dir: Path, tmp_path: Path
) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    config = replace(SHORT, weight_average=0.9, final=True)  # final: every epoch saved
    cpu = torch.device("cpu")

    def run(out: Path, progress: object = None, resume: bool = False) -> list[float]:
        history = train(TINY_MODEL, config, corpus, corpus, vectors, out, cpu, progress, resume)  # type: ignore[arg-type]
        return [r.loss for r in history.epochs]

    expected = run(tmp_path / "full.pt")
    records = json.loads((tmp_path / "full.metrics.json").read_text())["epochs"]
    assert all(r["raw_dev_f1"] is not None for r in records)
    out = tmp_path / "m.pt"
    with pytest.raises(Interrupted):
        run(out, _InterruptAt(3))
    state = torch.load(resume_path(out), weights_only=True)
    saved = torch.load(out, weights_only=True)["state_dict"]
    name = "rnn.weight_hh_l0"
    assert not torch.equal(saved[name], state["model"][name])  # not the last step's weights ...
    assert any(torch.equal(saved[name], s) for s in state["average"]["shadow"])  # ... but their average
    assert run(out, resume=True) == expected


def test_a_tagger_reads_the_averaged_weights_not_what_it_remembered(tagger: Tagger) -> None:
    """Under ``applied()`` every table a tagger remembers (character CNN, CRF scores) is rebuilt from
    the averaged weights: the emissions are those of a copy that holds them."""
    import copy

    from ner.training.regularizers import WeightAverage

    sentences = [["Alice", "visited", "Paris", "."], ["Bob", "works", "for", "Acme", "Corp", "."]]
    model = tagger.backend.model.eval()

    def emissions(of: Tagger) -> torch.Tensor:
        with torch.inference_mode():
            return torch.from_numpy(of.emissions(sentences)[0])

    average = WeightAverage(model.parameters(), decay=0.5)
    with torch.no_grad():
        for s in average.shadow:
            s.add_(0.3 * torch.randn_like(s))
    live = emissions(tagger)  # remembers the live weights' tables
    with average.applied():
        averaged = emissions(tagger)
        twin = copy.deepcopy(tagger)
    twin.backend.model.char_cnn._remembered = None  # a copy that remembers nothing
    twin.backend.model._transitions = None
    twin.backend._proj = None
    expected = emissions(twin)
    assert not torch.allclose(live, averaged)
    assert torch.allclose(averaged, expected, atol=1e-5)
    again = emissions(tagger)  # and the live weights once more after the block
    assert torch.allclose(again, live, atol=1e-6)


def test_variational_training_differs_from_per_token_dropout_and_tags_as_usual(
    data_dir: Path, tmp_path: Path
) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    losses = []
    for variational in (False, True):
        out = tmp_path / f"{variational}.pt"
        config = replace(SHORT, epochs=2, variational=variational)
        history = train(TINY_MODEL, config, corpus, corpus, vectors, out, torch.device("cpu"))
        losses.append([r.loss for r in history.epochs])
    assert losses[0] != losses[1]  # the same seed, other masks
    tagger = Tagger.load(out, "cpu")
    assert isinstance(tagger.backend.model.dropout, torch.nn.Dropout)  # a plain model once loaded
    assert tagger.metadata["train_config"]["variational"] is True


def test_embed_lr_scale_gives_the_word_embedding_a_learning_rate_of_its_own(
    data_dir: Path, tmp_path: Path
) -> None:
    corpus = read_conll(data_dir / "train.txt")
    vectors = load_vectors(str(data_dir / "glove.txt"))
    glove = torch.from_numpy(vectors.matrix)
    moved, losses = {}, {}
    for scale in (1.0, 0.0):  # 0: the embedding keeps its pretrained rows, the rest trains
        out = tmp_path / f"{scale}.pt"
        config = replace(SHORT, epochs=2, embed_lr_scale=scale)
        history = train(TINY_MODEL, config, corpus, corpus, vectors, out, torch.device("cpu"))
        losses[scale] = [r.loss for r in history.epochs]
        tagger = Tagger.load(out, "cpu")
        row = tagger.backend.model.word_embed.weight.detach()[tagger.encoder.words.index["paris"]]
        step = float(row.abs().max()) / 127  # int8 rounding in the checkpoint
        moved[scale] = float((row - glove[vectors.index["paris"]]).abs().max()) > step
    assert moved == {1.0: True, 0.0: False}
    assert losses[1.0] != losses[0.0]
    with pytest.raises(ValueError, match="embed_lr_scale must be a number >= 0"):
        TrainConfig(embed_lr_scale=-1.0)


def test_a_run_with_its_own_embedding_rate_resumes_as_if_never_stopped(
    data_dir: Path, tmp_path: Path
) -> None:
    config = replace(SHORT, embed_lr_scale=0.5)
    expected = _run(data_dir, tmp_path / "full.pt", config=config)
    out = tmp_path / "m.pt"
    with pytest.raises(Interrupted):
        _run(data_dir, out, _InterruptAt(3), config=config)
    groups = torch.load(resume_path(out), weights_only=True)["optimizer"]["param_groups"]
    assert [g["scale"] for g in groups] == [1.0, 0.5]
    assert _run(data_dir, out, resume=True, config=config) == expected


def test_reflow_trains_with_memory_and_is_ignored_without(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import DOCUMENTS, write_documents

    corpus = read_conll(write_documents(tmp_path / "documents.txt", DOCUMENTS * 2))
    vectors = load_vectors(str(data_dir / "glove.txt"))
    config = replace(TINY_TRAIN, epochs=2, reflow=0.5, lowercase=0.5)
    history = _train_with_memory(config, corpus, vectors, tmp_path / "m.pt")
    assert len(history.epochs) == 2
    train(TINY_MODEL, config, corpus, corpus, vectors, tmp_path / "n.pt", torch.device("cpu"))
    assert "reflow = 0.5 is ignored: it needs document memory" in caplog.text
