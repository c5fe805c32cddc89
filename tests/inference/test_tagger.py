from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ner.encoding.batch import Batch
from ner.encoding.encode import Arrays
from ner.inference.tagger import Tagger
from ner.model import crf
from ner.model.checkpoint import load_checkpoint
from ner.runtime import InputError
from ner.text.tags import spans_from_tags
from tests.conftest import SENTENCES


def test_fits_the_training_sentences(tagger: Tagger) -> None:
    """The ten-sentence fixture is learnt to F1 1.0 (conftest trains on it)."""
    words = [[w for w, _ in s] for s in SENTENCES]
    assert tagger.tag(words) == [[t for _, t in s] for s in SENTENCES]
    assert tagger.metadata["dev_scores"]["overall"]["f1"] == 100.0


def test_alone_equals_inside_a_batch(tagger: Tagger) -> None:
    words = [[w for w, _ in s] for s in SENTENCES] + [["Alice"], ["Paris", "and", "Berlin", "."] * 7]
    together = tagger.predict(words)
    for sentence, prediction in zip(words, together):
        alone = tagger.predict([sentence])[0]
        assert alone.tags == prediction.tags
        assert [(e.start, e.end, e.label) for e in alone.entities] == [
            (e.start, e.end, e.label) for e in prediction.entities
        ]
        for a, b in zip(alone.entities, prediction.entities):
            assert a.score == pytest.approx(b.score, abs=1e-4)  # float32 GEMMs differ by batch shape


def _paths(tagger: Tagger, rng: np.random.Generator, well_formed: bool) -> tuple[np.ndarray, np.ndarray]:
    """A batch of random tag paths, -1 past each end: walks along allowed moves, or any tags."""
    allowed = tagger.allowed
    n = len(tagger.encoder.tags)
    lengths = rng.integers(1, 9, size=12)
    paths = np.full((12, 8), -1)
    for b, length in enumerate(lengths):
        tag = n  # the start
        for t in range(length):
            ok = [j for j in range(n) if allowed[tag, j] and (t < length - 1 or allowed[j, n + 1])]
            tag = int(rng.choice(ok if well_formed else range(n)))
            paths[b, t] = tag
    return paths, lengths


def test_entities_of_a_batch_are_read_as_conlleval_reads_them(tagger: Tagger) -> None:
    """The whole-batch reading of IOBES paths gives spans_from_tags' entities, and so does the
    tag-by-tag fallback for paths that break the scheme."""
    rng = np.random.default_rng(0)
    names = tagger.encoder.tags.items
    for well_formed in (True, True, False):
        paths, lengths = _paths(tagger, rng, well_formed)
        rows, starts, ends, labels = tagger._spans(paths, lengths)
        got = list(zip(rows.tolist(), starts.tolist(), ends.tolist(), labels))
        want = [
            (b, span.start, span.end, span.label)
            for b, n in enumerate(lengths)
            for span in spans_from_tags([names[k] for k in paths[b, :n]])
        ]
        assert got == want and (well_formed or len(want) > 0)


def test_scores_are_probabilities(tagger: Tagger) -> None:
    prediction = tagger.predict([["Alice", "Walker", "visited", "Paris", "."]])[0]
    assert [(e.start, e.end, e.label) for e in prediction.entities] == [(0, 2, "PER"), (3, 4, "LOC")]
    assert all(0.5 < e.score <= 1.0 for e in prediction.entities)


def test_empty_and_very_long_sentences(tagger: Tagger) -> None:
    long = ["Paris", "is", "nice", "."] * 100  # longer than MAX_LEN: tagged in pieces
    empty, tagged = tagger.predict([[], long])
    assert empty.tags == [] and empty.entities == []
    assert len(tagged.tags) == 400
    assert [e.start for e in tagged.entities] == list(range(0, 400, 4))


def test_save_load_gives_identical_predictions(tagger: Tagger, tmp_path: Path) -> None:
    from ner.model.checkpoint import save_atomic

    path = tmp_path / "copy.pt"
    save_atomic(tagger.checkpoint(), path)
    obj = torch.load(path, weights_only=True)
    assert obj["vocab"]["tags"] == tagger.encoder.tags.items
    again = Tagger.load(path, "cpu")
    words = [[w for w, _ in s] for s in SENTENCES]
    assert again.predict(words) == tagger.predict(words)


def test_checkpoint_is_plain_data(model_path: Path) -> None:
    obj = load_checkpoint(model_path)
    assert obj["format_version"] == 3
    assert obj["model_config"]["context"] == 0 and obj["model_config"]["memory"] == 0
    assert obj["scheme"] == {"model": "iobes", "data": "iob2"}
    assert obj["state_dict"]["word_embed.weight"].dtype == torch.int8
    assert obj["state_dict"]["word_embed.weight_scale"].dtype == torch.float32
    assert {"train", "dev", "epoch", "dev_scores", "versions", "date"} <= set(obj["metadata"])


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="checkpoint not found"):
        Tagger.load(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        Tagger.load(broken)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(InputError, match="missing format_version"):
        Tagger.load(other)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
def test_gpu_gives_the_cpu_predictions(model_path: Path) -> None:
    cpu, gpu = Tagger.load(model_path, "cpu"), Tagger.load(model_path, "cuda")
    assert gpu.device.startswith("cuda") and next(gpu.backend.model.parameters()).is_cuda
    words = [[w for w, _ in s] for s in SENTENCES] + [["Paris", "and", "Berlin", "."] * 90]
    for on_cpu, on_gpu in zip(cpu.predict(words), gpu.predict(words)):
        assert on_gpu.tags == on_cpu.tags
        for a, b in zip(on_gpu.entities, on_cpu.entities):
            assert (a.start, a.end, a.label) == (b.start, b.end, b.label)
            assert a.score == pytest.approx(b.score, abs=1e-3)


@needs_cuda
def test_gpu_decoding_synchronises_per_batch_not_per_token(model_path: Path) -> None:
    import warnings

    gpu = Tagger.load(model_path, "cuda")

    def syncs(sentences: list[list[str]]) -> int:
        gpu.predict(sentences)  # warm: the first call also loads kernels
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                gpu.predict(sentences)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    short = syncs([["Alice", "visited", "Paris", "."]] * 8)
    long = syncs([["Alice", "visited", "Paris", "."] * 60] * 8)  # 240 tokens each: 60 times the steps
    # a few copies per batch (the CRF scores and the emissions come off the device), none per token
    assert 1 <= short <= 16
    assert long == short


def test_a_format_1_checkpoint_loads_and_reads_sentences_alone(model_path: Path, tmp_path: Path) -> None:
    """Format 1 is what the bundled model and every checkpoint before document context are."""
    from ner.model.checkpoint import save_atomic

    obj = _in_half_precision(load_checkpoint(model_path))
    obj["format_version"] = 1
    del obj["model_config"]["context"], obj["model_config"]["memory"]
    old = tmp_path / "format1.pt"
    save_atomic(obj, old)
    tagger = Tagger.load(old, "cpu")
    assert tagger.context == 0
    _same_predictions(tagger, Tagger.load(model_path, "cpu"))


def _in_half_precision(obj: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint with its word embedding in half precision, as formats 1 and 2 stored it."""
    from ner.model.checkpoint import word_vectors

    state = obj["state_dict"]
    state["word_embed.weight"] = torch.from_numpy(word_vectors(state)).half()
    return obj


def _same_predictions(tagger: Tagger, other: Tagger) -> None:
    """The same tags, and the same scores up to the rounding of half precision against int8."""
    words = [[w for w, _ in s] for s in SENTENCES]
    ours, theirs = tagger.predict(words), other.predict(words)
    assert [p.tags for p in ours] == [p.tags for p in theirs]
    scores = [e.score for p in ours for e in p.entities]
    assert scores == pytest.approx([e.score for p in theirs for e in p.entities], abs=1e-3)


def test_a_format_2_checkpoint_loads_without_memory(model_path: Path, tmp_path: Path) -> None:
    """Format 2 is format 3 without document memory (the checkpoints written before it)."""
    from ner.model.checkpoint import save_atomic

    obj = _in_half_precision(load_checkpoint(model_path))
    obj["format_version"] = 2
    del obj["model_config"]["memory"]
    old = tmp_path / "format2.pt"
    save_atomic(obj, old)
    tagger = Tagger.load(old, "cpu")
    assert tagger.memory == 0 and tagger.config.memory == 0
    _same_predictions(tagger, Tagger.load(model_path, "cpu"))


def test_without_context_documents_are_read_as_their_sentences(tagger: Tagger) -> None:
    words = [[w for w, _ in s] for s in SENTENCES]
    documents = [words[:3], [], words[3:4], words[4:]]
    assert tagger.context == 0
    flat = [p for d in tagger.predict_documents(documents) for p in d]
    assert flat == tagger.predict(words)


def test_with_context_each_document_alone_or_batched_gives_the_same(tagger: Tagger, monkeypatch) -> None:
    monkeypatch.setattr(tagger, "context", 12)  # windows of up to 12 tokens: two or three sentences
    words = [[w for w, _ in s] for s in SENTENCES]
    documents = [words[:4], [words[4], [], words[5]], words[6:]]
    together = tagger.predict_documents(documents)
    alone = [tagger.predict_documents([d])[0] for d in documents]
    spans = [[(p.tags, [(e.start, e.end, e.label) for e in p.entities]) for p in d] for d in together]
    assert spans == [[(p.tags, [(e.start, e.end, e.label) for e in p.entities]) for p in d] for d in alone]
    scores = [e.score for d in together for p in d for e in p.entities]
    assert scores == pytest.approx([e.score for d in alone for p in d for e in p.entities], abs=1e-5)
    for document, predictions in zip(documents, together):
        assert [len(p.tags) for p in predictions] == [len(s) for s in document]
        for sentence, p in zip(document, predictions):
            assert all(0 <= e.start < e.end <= len(sentence) for e in p.entities)
    assert [p.tags for p in together[0]] == tagger.tag_documents([documents[0]])[0]


def test_a_long_document_is_read_in_bounded_windows(tagger: Tagger, monkeypatch) -> None:
    """100,000 tokens in one document: windows of at most 64 tokens, each sentence tagged."""
    from ner.encoding import reading

    monkeypatch.setattr(tagger, "context", 64)
    sentence = [w for w, _ in SENTENCES[0]]
    document = [sentence] * (100_000 // len(sentence))
    seen: list[int] = []
    predict = tagger.predict

    def counting(sentences: list[list[str]], *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(max(map(len, sentences)))
        return predict(sentences, *args, **kwargs)

    monkeypatch.setattr(tagger, "predict", counting)
    (result,) = tagger.predict_documents([document])
    assert len(result) == len(document) and max(seen) <= 64
    assert {tuple(p.tags) for p in result} == {tuple(predict([sentence])[0].tags)}
    windows, places = reading.pack_windows([document], 64)
    assert max(map(len, windows)) <= 64 and sum(len(p) for p in places) == len(document)


def _memory_documents() -> list[list[list[str]]]:
    from tests.conftest import DOCUMENTS

    return [[[w for w, _ in s] for s in d] for d in DOCUMENTS]


def test_with_memory_each_document_alone_or_batched_gives_the_same(memory_tagger: Tagger) -> None:
    documents = _memory_documents()
    together = memory_tagger.predict_documents([*documents, [], *documents[:1]])
    alone = [memory_tagger.predict_documents([d])[0] for d in documents]
    assert together[2] == [] and len(together) == 4
    for got, expected in zip(together[:2] + together[3:], alone + alone[:1]):
        assert [p.tags for p in got] == [p.tags for p in expected]
        scores = [e.score for p in got for e in p.entities]
        assert scores == pytest.approx([e.score for p in expected for e in p.entities], abs=1e-5)
    # the memory is read: the second document's sentences score otherwise when read alone
    by_sentence = [memory_tagger.predict([s])[0] for s in documents[1]]
    assert [e.score for p in together[1] for e in p.entities] != pytest.approx(
        [e.score for p in by_sentence for e in p.entities], abs=1e-6
    )


def test_with_memory_a_long_document_is_read_in_bounded_blocks(memory_tagger: Tagger, monkeypatch) -> None:
    """100,000 tokens in one document: blocks of at most MEMORY tokens, read whole, a bounded span of
    them at a time (30,000 tokens here)."""
    from ner.inference import tagger as core
    from tests.conftest import MEMORY

    sentence = [w for w, _ in SENTENCES[0]]
    document = [sentence] * (100_000 // len(sentence))
    spans: list[tuple[int, dict[int, int]]] = []
    remembering = memory_tagger._predict_remembering

    def counting(pieces, span, groups, *args):  # type: ignore[no-untyped-def]
        blocks: dict[int, int] = {}
        for k in span:
            blocks[groups[k]] = blocks.get(groups[k], 0) + len(pieces[k][2])
        spans.append((sum(len(pieces[k][2]) for k in span), blocks))
        return remembering(pieces, span, groups, *args)

    monkeypatch.setattr(memory_tagger, "_predict_remembering", counting)
    monkeypatch.setattr(core, "MEMORY_SPAN_TOKENS", 30_000)  # the default would take all of it at once
    (tags,) = memory_tagger.tag_documents([document])
    assert len(tags) == len(document) and all(len(t) == len(sentence) for t in tags)
    assert len(spans) > 1 and all(tokens <= core.MEMORY_SPAN_TOKENS for tokens, _ in spans)
    seen = [b for _, blocks in spans for b in blocks]
    assert len(seen) == len(set(seen))  # a block is never split between spans
    assert max(n for _, blocks in spans for n in blocks.values()) <= MEMORY


def test_with_memory_spans_and_batches_change_nothing(memory_tagger: Tagger, monkeypatch) -> None:
    """Blocks read a few at a time, or in batches of 2, or as one batch of whole blocks through the
    model's own memory (``ner.model.network.recall``, as in training): the same entities and scores."""
    from ner.inference import tagger as core

    documents = _memory_documents()
    default = memory_tagger.predict_documents(documents)
    monkeypatch.setattr(core, "MEMORY_SPAN_TOKENS", 10)
    small = memory_tagger.predict_documents(documents, batch_size=2)
    assert [[p.tags for p in d] for d in small] == [[p.tags for p in d] for d in default]
    assert [e.score for d in small for p in d for e in p.entities] == pytest.approx(
        [e.score for d in default for p in d for e in p.entities], abs=1e-5
    )
    plan = memory_tagger.reading_plan(documents)
    batch = Batch.of(memory_tagger.encoder.arrays(plan.units))
    batch.groups = torch.tensor(plan.groups)
    with torch.inference_mode():  # the reference network's own memory, as training computes it
        emissions = memory_tagger.backend.model.emissions(batch).numpy()
    found = memory_tagger.decode(emissions, batch.lengths.numpy())
    flat = [p for d in default for p in d]
    assert [[(e.start, e.end, e.label) for e in f] for f in found] == [
        [(e.start, e.end, e.label) for e in p.entities] for p in flat
    ]
    scores = [e.score for f in found for e in f]
    assert scores == pytest.approx([e.score for p in flat for e in p.entities], abs=1e-5)


class _TableBackend:
    """A backend that is nothing but a table of emission scores per word: what the protocol asks
    (:class:`ner.model.backend.Backend`), and nothing of PyTorch or of the network."""

    device = "cpu"
    kind = "table"
    parameters = 0

    def __init__(self, tagger: Tagger, scores: dict[str, str]) -> None:
        tags = tagger.encoder.tags.items
        self.table = np.zeros((len(tagger.encoder.words), len(tags)), dtype=np.float32)
        self.table[:, tags.index("O")] = 5.0
        for word, tag in scores.items():
            row = tagger.encoder.words.get(word.lower())
            self.table[row] = 0.0
            self.table[row, tags.index(tag)] = 5.0
        self.crf = crf.CrfScores(
            *(np.zeros(s, dtype=np.float32) for s in (len(tags), (len(tags),) * 2, len(tags)))
        )

    def emissions(self, arrays: Arrays) -> np.ndarray:
        return self.table[arrays.words]

    def states(self, arrays: Arrays) -> np.ndarray:
        raise AssertionError("a model without memory never asks for states")

    emit = emit_recalled = states

    def recall(self, states: np.ndarray, keys: np.ndarray) -> np.ndarray:
        raise AssertionError("a model without memory never recalls")

    def transitions(self) -> crf.CrfScores:
        return self.crf


def test_any_backend_with_the_protocol_tags_through_the_one_tagger(tagger: Tagger) -> None:
    """A third backend plugs in behind the same Tagger: the scheme's constraints, entities, scores
    and character offsets all come from the tagger."""
    table = Tagger(
        _TableBackend(tagger, {"Alice": "B-PER", "Walker": "E-PER", "Paris": "S-LOC"}),  # the model's IOBES
        tagger.encoder,
        tagger.config,
        tagger.model_scheme,
        tagger.data_scheme,
        dict(tagger.metadata),
    )
    (found,) = table.tag_texts(["Alice Walker visited Paris."])
    assert [(e.text, e.label) for e in found] == [("Alice Walker", "PER"), ("Paris", "LOC")]
    assert all(0.9 < e.score <= 1.0 for e in found)
    assert table.device == "cpu" and table.backend.parameters == 0
