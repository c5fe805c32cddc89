"""The ONNX Runtime backend against PyTorch (:mod:`ner.model.onnx_backend`, :mod:`ner.model.onnx_export`)."""

import shutil
from pathlib import Path

import pytest

from ner.cli import main
from ner.inference.tagger import Tagger
from ner.runtime import InputError
from tests.conftest import DOCUMENTS, SENTENCES

pytest.importorskip("onnxruntime")


def _exported(model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / model.name
    shutil.copy(model, copy)
    assert main(["export", "--format", "onnx", "--model", str(copy)]) == 0
    assert copy.with_suffix(".onnx").is_file()
    return copy


MODELS = ["model_path", "memory_model_path", "gate_model_path", "gazetteer_model_path"]


@pytest.mark.parametrize("which", MODELS)
def test_same_tags_and_scores_as_pytorch(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model = _exported(request.getfixturevalue(which), tmp_path)
    reference, graph = Tagger.load(model, "cpu"), Tagger.load(model, backend="onnx")
    assert graph.backend.kind == "onnx" and graph.device == "cpu"
    documents = [[[w for w, _ in s] for s in d] for d in DOCUMENTS]
    expected, got = reference.predict_documents(documents), graph.predict_documents(documents)
    assert [[p.tags for p in d] for d in got] == [[p.tags for p in d] for d in expected]
    scores = [e.score for d in got for p in d for e in p.entities]
    assert scores == pytest.approx([e.score for d in expected for p in d for e in p.entities], abs=1e-5)
    sentences = [[w for w, _ in s] for s in SENTENCES] + [["x"], ["Zürich", "1996-08-22", "y" * 40]]
    assert graph.tag(sentences, batch_size=3) == reference.tag(sentences)


def test_without_a_graph_the_error_says_how_to_make_one(model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "alone.pt"
    shutil.copy(model_path, copy)
    with pytest.raises(InputError, match="ner export --format onnx"):
        Tagger.load(copy, backend="onnx")
    copy.with_suffix(".onnx").write_bytes(b"not a graph")
    with pytest.raises(InputError, match="not a usable ONNX graph"):
        Tagger.load(copy, backend="onnx")
    with pytest.raises(InputError, match="runs on the CPU only"):
        Tagger.load(copy, device="cuda", backend="onnx")
