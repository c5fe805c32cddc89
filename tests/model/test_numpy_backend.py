"""The numpy forward pass against the PyTorch model, the reference: same tags, same scores."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ner.encoding.encode import Encoder
from ner.encoding.vocab import Vocab, WordVocab
from ner.inference.tagger import Tagger
from ner.model.checkpoint import load_arrays, load_checkpoint
from ner.model.config import ModelConfig, Sizes
from ner.model.network import BiLstmCrf
from ner.model.torch_backend import TorchBackend
from ner.runtime import InputError
from tests.conftest import SENTENCES

WORDS = sorted({w for s in SENTENCES for w, _ in s})
TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


def _random_tagger(cell: str, layers: int, casing_dim: int, combine: str) -> Tagger:
    """An untrained model with random weights, larger than zero everywhere (the CRF included)."""
    torch.manual_seed(len(cell) + layers + casing_dim + len(combine))
    encoder = Encoder(WordVocab(w.lower() for w in WORDS), Vocab("".join(WORDS)), Vocab(TAGS, specials=False))
    config = ModelConfig(
        word_dim=6, char_dim=5, char_filters=7, casing_dim=casing_dim, hidden=9, layers=layers,
        cell=cell, combine=combine,  # type: ignore[arg-type]
    )  # fmt: skip
    model = BiLstmCrf(config, Sizes(len(encoder.words), len(encoder.chars), len(TAGS)))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    backend = TorchBackend(model, torch.device("cpu"))
    return Tagger(backend, encoder, config, "iobes", "iob2", {"name": "random"})


def _sentences() -> list[list[str]]:
    words = [w for s in SENTENCES for w, _ in s] + ["unseen", "Zürich", "1996-08-22", "x" * 40]
    rng = np.random.default_rng(0)
    return [[str(w) for w in rng.choice(words, size=n)] for n in (1, 3, 7, 2, 12, 5, 30, 1, 9)]


@pytest.mark.parametrize(
    ("cell", "layers", "casing_dim", "combine"),
    [("lstm", 1, 4, "concat"), ("lstm", 2, 0, "concat"), ("gru", 1, 3, "concat"), ("gru", 2, 2, "concat"),
     ("lstm", 1, 4, "gate"), ("gru", 1, 0, "gate")],
)  # fmt: skip
def test_same_emissions_tags_and_scores_as_pytorch(
    cell: str, layers: int, casing_dim: int, combine: str, tmp_path: Path
) -> None:
    reference = _random_tagger(cell, layers, casing_dim, combine)
    path = tmp_path / "m.pt"
    torch.save(reference.checkpoint(), path)
    reference = Tagger.load(path, "cpu")  # the stored (half-precision) embeddings on both sides
    fast = Tagger.load(path, backend="numpy")
    sentences = _sentences()
    with torch.inference_mode():
        expected, lengths = reference.emissions(sentences)
    got, got_lengths = fast.emissions(sentences)
    assert np.array_equal(lengths, got_lengths)
    live = np.arange(expected.shape[1])[None, :] < lengths[:, None]
    np.testing.assert_allclose(got[live], expected[live], atol=2e-5)
    predicted = reference.predict(sentences)
    assert sum(len(p.entities) for p in predicted) >= 3  # something to compare scores on
    for a, b in zip(predicted, fast.predict(sentences)):
        assert a.tags == b.tags
        assert [(e.start, e.end, e.label) for e in a.entities] == [
            (e.start, e.end, e.label) for e in b.entities
        ]
        np.testing.assert_allclose([e.score for e in a.entities], [e.score for e in b.entities], atol=1e-5)


def test_trained_model_agrees_and_keeps_labels(model_path: Path, tagger: Tagger) -> None:
    fast = Tagger.load(model_path, backend="numpy")
    sentences = [[w for w, _ in s] for s in SENTENCES]
    assert fast.tag(sentences) == tagger.tag(sentences)
    assert fast.labels == tagger.labels and fast.temperature == tagger.temperature


def test_a_model_with_name_lists_agrees_and_reads_them(gazetteer_model_path: Path) -> None:
    reference = Tagger.load(gazetteer_model_path, "cpu")
    fast = Tagger.load(gazetteer_model_path, backend="numpy")
    assert fast.encoder.gazetteer is not None and fast.encoder.gazetteer.labels == ["LOC", "ORG"]
    sentences = [[w for w, _ in s] for s in SENTENCES] + [["Rain", "in", "new", "york", "and", "Lisbon"]]
    with torch.inference_mode():
        expected, lengths = reference.emissions(sentences)
    got, _ = fast.emissions(sentences)
    live = np.arange(expected.shape[1])[None, :] < lengths[:, None]
    np.testing.assert_allclose(got[live], expected[live], atol=2e-5)
    assert fast.tag(sentences) == reference.tag(sentences)
    blind = load_checkpoint(gazetteer_model_path)
    blind["vocab"].pop("gazetteer")  # the lists' feature width no longer matches what the model reads
    path = gazetteer_model_path.with_name("blind.pt")
    torch.save(blind, path)
    with pytest.raises(InputError, match="reads 2 name lists but the checkpoint holds 0"):
        Tagger.load(path, "cpu")


def test_checkpoint_reads_the_same_without_torch(model_path: Path) -> None:
    with_torch = load_checkpoint(model_path)
    without = load_arrays(model_path)
    assert with_torch.keys() == without.keys() and with_torch["vocab"] == without["vocab"]
    for name, tensor in with_torch["state_dict"].items():
        assert np.array_equal(tensor.numpy(), without["state_dict"][name]), name


def test_tagging_with_numpy_never_imports_torch(model_path: Path) -> None:
    code = (
        "import sys; from ner.inference.tagger import Tagger; "
        f"t = Tagger.load({str(model_path)!r}, backend='numpy'); t.predict([['Alice', 'visited', 'Paris']]); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="checkpoint not found"):
        Tagger.load(tmp_path / "missing.pt", backend="numpy")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        Tagger.load(junk, backend="numpy")
    code = tmp_path / "code.pt"
    torch.save({"format_version": 1, "payload": Path("x")}, code)  # a class that is not plain data
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_arrays(code)


def test_a_memory_model_gives_the_same_in_numpy(memory_model_path: Path, memory_tagger: Tagger) -> None:
    from tests.conftest import DOCUMENTS

    documents = [[[w for w, _ in s] for s in d] for d in DOCUMENTS]
    numpy_tagger = Tagger.load(memory_model_path, backend="numpy")
    flat = [s for d in documents for s in d]
    groups = [0] * len(documents[0]) + [1] * len(documents[1])
    with torch.inference_mode():
        expected, _ = memory_tagger.emissions(flat, groups)
    got, _ = numpy_tagger.emissions(flat, groups)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    ours, theirs = numpy_tagger.predict_documents(documents), memory_tagger.predict_documents(documents)
    assert [[p.tags for p in d] for d in ours] == [[p.tags for p in d] for d in theirs]
