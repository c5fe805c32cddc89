"""Distilling teachers into one model (:mod:`ner.training.distil`)."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from ner.training.embeddings import load_vectors
from ner.training.train import train
from tests.conftest import TINY_MODEL, TINY_TRAIN

SHORT = replace(TINY_TRAIN, epochs=4, unk_replace=0.5)


def test_distilling_one_teacher_trains_and_records_it(
    model_path: Path, data_dir: Path, tmp_path: Path
) -> None:
    from ner.training.distil import teacher_marginals

    corpus = read_conll(data_dir / "train.txt")
    teacher = Tagger.load(model_path, "cpu")
    sentences = [s.tokens for s in corpus.sentences]
    tags = teacher.encoder.tags.items
    soft = teacher_marginals([str(model_path)], sentences, None, tags, "iobes", torch.device("cpu"))
    assert [len(m) for m in soft] == [len(s) for s in sentences]
    assert all(torch.allclose(torch.from_numpy(m).sum(1), torch.ones(len(m))) for m in soft)
    from ner.text.tags import convert

    likeliest = [tags[int(k)] for m in soft for k in m.argmax(1)]  # each token's likeliest tag
    viterbi = [t for tagged in teacher.tag(sentences) for t in convert(tagged, "iobes")]
    assert sum(a == b for a, b in zip(likeliest, viterbi)) >= 0.9 * len(viterbi)
    vectors = load_vectors(str(data_dir / "glove.txt"))
    config = replace(SHORT, teachers=(str(model_path),), distil=0.5)
    out = tmp_path / "student.pt"
    history = train(TINY_MODEL, config, corpus, corpus, vectors, out, torch.device("cpu"))
    assert history.epochs[-1].loss < history.epochs[0].loss
    assert list(Tagger.load(out, "cpu").metadata["train_config"]["teachers"]) == [str(model_path)]


def test_a_teacher_with_other_tags_is_refused(model_path: Path, data_dir: Path) -> None:
    from ner.runtime import InputError
    from ner.training.distil import teacher_marginals

    with pytest.raises(InputError, match="are not the student's"):
        teacher_marginals([str(model_path)], [["Alice"]], None, ["O", "S-PER"], "iobes", torch.device("cpu"))
