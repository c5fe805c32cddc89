"""One :class:`Tagger`: a trained model's vocabularies, tag schemes and metadata over a backend
(:class:`ner.model.backend.Backend`, PyTorch or numpy), and everything of tagging after the network, in
numpy: the document memory's bookkeeping, Viterbi paths, entities, their scores, and the batching of
sentences around it. Backends compute emission scores and nothing else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ner.encoding.encode import Encoder
from ner.encoding.packing import members, pack
from ner.encoding.reading import ReadingPlan
from ner.model import crf
from ner.model.backend import Backend
from ner.model.bundled import default_model_path
from ner.model.checkpoint import FORMAT_VERSION, encoder_of
from ner.model.config import ModelConfig, Sizes
from ner.model.kernels import masked_crf_scores, memory_keys, remembering
from ner.runtime import InputError
from ner.text.results import Entity, Prediction, TextEntity
from ner.text.tags import Scheme, Span, allowed_transitions, spans_from_tags, tags_from_spans
from ner.text.tokenize import STYLES

if TYPE_CHECKING:
    from ner.inference.pipeline import Prepared
    from ner.text.tokenize import Tokenizer

__all__ = ["MAX_LEN", "Entity", "Prediction", "Tagger", "TextEntity"]

BackendName = Literal["torch", "numpy", "onnx"]
MAX_LEN = 256  # longer sentences are tagged in pieces of this many tokens, bounding memory
# A model with document memory reads whole blocks of documents together, up to this many tokens at a
# time (a block is never split). What waits for the memory is each token's emission scores and the
# state of each capitalised token (1 KiB): at most about 140 MB for a span, about 55 MB for newswire
# (a third of its tokens are capitalised).
MEMORY_SPAN_TOKENS = 131_072


_O, _B, _I, _E, _S = range(5)  # kinds of tag, as _TagCodes numbers them


@dataclass(frozen=True)
class _TagCodes:
    """The model's tags as arrays indexed by tag, for reading the entities of a whole batch of
    paths at once. Each array has one entry more than there are tags, read by index -1 (padding)."""

    iobes: bool  # whether the model tags in IOBES (else entities are read tag by tag)
    kind: np.ndarray  # (num_tags + 1,): _O, _B, _I, _E or _S; padding is _O
    label: np.ndarray  # (num_tags + 1,): index into label_names
    label_names: list[str]
    allowed: np.ndarray  # (num_tags + 2, num_tags + 2) bool, as BiLstmCrf.constrain takes it
    start: int  # the row of ``allowed`` for the start of a sentence
    end: int  # the column for its end

    @classmethod
    def of(cls, tags: list[str], scheme: Scheme, allowed: np.ndarray) -> _TagCodes:
        names = sorted({t[2:] for t in tags if t != "O"})
        kind = [_O if t == "O" else "OBIES".index(t[0]) for t in tags] + [_O]
        label = [names.index(t[2:]) if t != "O" else 0 for t in tags] + [0]
        n = len(tags)
        return cls(scheme == "iobes", np.array(kind), np.array(label), names, allowed, n, n + 1)


def batch_order(lengths: list[int], batch_size: int, groups: list[int] | None = None) -> list[list[int]]:
    """Indices of items of ``lengths`` tokens in batches of up to ``batch_size``, sorted by length so
    that little is padding. With ``groups`` (one per item), the items of one group stay in one batch
    (a group bigger than ``batch_size`` makes a batch of its own), groups sorted by their longest item."""
    if groups is None:
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        return [order[first : first + batch_size] for first in range(0, len(order), batch_size)]
    ranked = sorted(members(groups), key=lambda ks: max(lengths[k] for k in ks))
    return [[k for g in bin_ for k in ranked[g]] for bin_ in pack([len(ks) for ks in ranked], batch_size)]


def memory_spans(lengths: list[int], groups: list[int], limit: int) -> list[list[int]]:
    """Indices of items of ``lengths`` tokens, whole groups at a time, in spans of up to ``limit``
    tokens (a bigger group makes a span of its own)."""
    blocks = members(groups)
    sizes = [sum(lengths[k] for k in ks) for ks in blocks]
    return [[k for b in span for k in blocks[b]] for span in pack(sizes, limit)]


class Tagger:
    """A trained model with its vocabularies and tag schemes, ready to tag on one backend.

    ``tag`` and ``predict`` take token lists (entity ``start``/``end`` are token indices);
    ``tag_texts`` takes raw strings (entity ``start``/``end`` are character offsets, as over HTTP)."""

    def __init__(
        self,
        backend: Backend,
        encoder: Encoder,
        config: ModelConfig,
        model_scheme: Scheme,
        data_scheme: Scheme,
        metadata: dict[str, Any],
    ) -> None:
        self.backend = backend
        self.encoder = encoder
        self.config = config
        self.context = config.context  # tokens per window of a document's sentences (0: each alone)
        self.memory = config.memory  # tokens per block of a document that the memory spans (0: none)
        self.model_scheme = model_scheme
        self.data_scheme = data_scheme
        self.metadata = metadata
        if self.tokenizer_style not in STYLES:
            raise ValueError(f"unknown tokenizer {self.tokenizer_style!r} in the metadata")
        labels = encoder.tags.items
        allowed = np.zeros((len(labels) + 2, len(labels) + 2), dtype=bool)
        for i, j in allowed_transitions(labels, model_scheme):
            allowed[i, j] = True
        self.allowed = allowed  # (num_tags + 2, num_tags + 2): row num_tags is the start, column + 1 the end
        self._codes = _TagCodes.of(labels, model_scheme, allowed)
        self._tokenizer: Tokenizer | None = None  # see default_tokenizer
        self._masked: tuple[crf.CrfScores, crf.CrfScores] | None = None  # (transitions, masked)

    @classmethod
    def load(
        cls, path: str | Path | None = None, device: str = "auto", backend: BackendName = "torch"
    ) -> Tagger:
        """Load a checkpoint file written by ``ner train``; with no path, the bundled model
        (``NER_MODEL`` if set, see :func:`ner.model.bundled.default_model_path`).

        Args:
            device: ``auto`` (the GPU if there is one), ``cpu`` or ``cuda`` (torch backend only).
            backend: ``torch`` (PyTorch: GPUs), ``numpy`` (no PyTorch imported: starts seconds
                sooner; CPU only) or ``onnx`` (ONNX Runtime over the graph ``ner export --format onnx``
                wrote beside the checkpoint; CPU only).

        Raises:
            InputError: a missing, damaged or incompatible file, or an unavailable device.
        """
        path = default_model_path() if path is None else path
        if backend in ("numpy", "onnx"):
            if device not in ("auto", "cpu"):
                raise InputError(f"the {backend} backend runs on the CPU only, not {device!r}")
            from ner.model.checkpoint import load_arrays
            from ner.model.numpy_backend import load_numpy_backend
            from ner.model.onnx_backend import load_onnx_backend

            obj = load_arrays(path)
            try:
                made = load_onnx_backend(obj, path) if backend == "onnx" else load_numpy_backend(obj)
                return cls.of_checkpoint(obj, made)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                if isinstance(exc, InputError):
                    raise
                raise InputError(f"checkpoint does not match this model ({exc})", path) from None
        if backend != "torch":
            raise InputError(f"unknown backend {backend!r} (expected torch, numpy or onnx)")
        from ner.model.checkpoint import load_checkpoint
        from ner.model.torch_backend import load_torch_backend
        from ner.runtime import resolve_device

        obj = load_checkpoint(path)
        torch_device = resolve_device(device)
        try:
            return cls.of_checkpoint(obj, load_torch_backend(obj, torch_device))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"checkpoint does not match this model ({exc})", path) from None

    @classmethod
    def of_checkpoint(cls, obj: dict[str, Any], backend: Backend) -> Tagger:
        """The tagger of a loaded checkpoint's dictionary, computing on ``backend`` (built from it)."""
        encoder = encoder_of(obj)
        config, _ = ModelConfig.of_checkpoint(obj["model_config"])
        scheme = obj["scheme"]
        return cls(backend, encoder, config, scheme["model"], scheme["data"], obj["metadata"])

    # Checkpoint keys are written here, read by ner.model.checkpoint and of_checkpoint.
    def checkpoint(self) -> dict[str, Any]:
        """The model as plain data, for :func:`ner.model.checkpoint.save_atomic` (PyTorch backend
        only: the numpy one holds the weights in its own layout)."""
        state = getattr(self.backend, "state", None)
        if state is None:
            raise TypeError(f"{type(self.backend).__name__} cannot write a checkpoint; load with torch")
        encoder = self.encoder
        vocab: dict[str, Any] = {
            "words": encoder.words.items, "chars": encoder.chars.items, "tags": encoder.tags.items
        }  # fmt: skip
        if encoder.gazetteer is not None:
            vocab["gazetteer"] = encoder.gazetteer.to_table()
        return {
            "format_version": FORMAT_VERSION,
            "model_config": self.config.for_checkpoint(self.sizes),
            "vocab": vocab,
            "scheme": {"model": self.model_scheme, "data": self.data_scheme},
            "metadata": self.metadata,
            "state_dict": state(),
        }

    @property
    def sizes(self) -> Sizes:
        """The vocabularies' sizes."""
        encoder = self.encoder
        lists = 0 if encoder.gazetteer is None else len(encoder.gazetteer.labels)
        return Sizes(len(encoder.words), len(encoder.chars), len(encoder.tags), lists)

    @property
    def device(self) -> str:
        return self.backend.device

    def crf_scores(self) -> crf.CrfScores:
        """The CRF's scores with the moves the tag scheme forbids pushed down (remembered while the
        backend's transitions stay the same)."""
        transitions = self.backend.transitions()
        if self._masked is None or self._masked[0] is not transitions:
            masked = masked_crf_scores(
                transitions.start, transitions.transitions, transitions.end, self.allowed
            )
            self._masked = (transitions, masked)
        return self._masked[1]

    def emissions(
        self, sentences: list[list[str]], groups: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Emission scores (batch, seq, num_tags) float32 and lengths (batch,) of one batch of
        sentences (none empty). ``groups`` gives each sentence's document block, for a model with
        document memory (None: each sentence a block of its own)."""
        if not self.memory:
            arrays = self.encoder.arrays(sentences)
            return self.backend.emissions(arrays), arrays.lengths
        blocks = list(range(len(sentences))) if groups is None else groups
        emissions, lengths, kept, keys, rows = self._read_remembering(sentences, blocks)
        self._add_recalled([(emissions, rows)], [kept], [keys])
        return emissions, lengths

    def _read_remembering(
        self, sentences: list[list[str]], blocks: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For a model with document memory, one batch: its emission scores without the memory
        (batch, seq, num_tags) and lengths (batch,), and for the tokens that remember
        (:func:`ner.model.kernels.remembering`) their states (tokens, dim), memory keys (tokens,) and
        rows in the flattened batch (tokens,). The rest of the states can go."""
        backend = self.backend
        arrays = self.encoder.arrays(sentences)
        states = backend.states(arrays)  # (batch, seq, 2 * hidden)
        live = remembering(states.shape[1], arrays.lengths, arrays.words, arrays.casing)  # (batch, seq)
        keys = memory_keys(np.asarray(blocks, dtype=np.int64)[:, None], arrays.words)[live]
        return backend.emit(states), arrays.lengths, states[live], keys, np.flatnonzero(live)

    def _add_recalled(
        self, read: list[tuple[np.ndarray, np.ndarray]], kept: list[np.ndarray], keys: list[np.ndarray]
    ) -> None:
        """Add what the memory recalls, over every batch of ``read`` together, to their emission scores
        in place: ``read`` holds each batch's (emissions, rows), ``kept`` and ``keys`` its remembering
        tokens' states and keys, as :meth:`_read_remembering` gives them."""
        every_key = np.concatenate(keys)
        if len(np.unique(every_key)) == len(every_key):  # no word comes back: nothing to recall
            return
        backend = self.backend
        added = backend.emit_recalled(backend.recall(np.concatenate(kept), every_key))
        first = 0
        for emissions, rows in read:  # emissions (batch, seq, num_tags)
            emissions.reshape(-1, emissions.shape[2])[rows] += added[first : first + len(rows)]
            first += len(rows)

    @property
    def tokenizer_style(self) -> str:
        """The raw-text tokenizer the model was trained for (see :mod:`ner.text.tokenize`); checkpoints
        from before there was a choice were all CoNLL newswire."""
        return str(self.metadata.get("tokenizer", "conll"))

    @property
    def labels(self) -> list[str]:
        """Entity types the model predicts."""
        return list(self._codes.label_names)

    @property
    def temperature(self) -> float:
        """Divides the CRF's scores before computing probabilities (set by ``ner calibrate``)."""
        return float(self.metadata.get("calibration", {}).get("temperature", 1.0))

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "ner"))

    def tag_texts(
        self, texts: list[str], tokenizer: Tokenizer | None = None, batch_size: int = 256
    ) -> list[list[TextEntity]]:
        """Entities of raw texts, as ``POST /tag`` gives them: ``start``/``end`` are character offsets
        into each text (``text[e.start:e.end] == e.text``), ``token_start``/``token_end`` count tokens
        over the whole text. The sentences of all the texts are tagged together; each text is a
        document. The text pipeline is :mod:`ner.inference.pipeline`, which every entry point shares.

        Args:
            tokenizer: splits texts into tokens and sentences (default: the model's own style, as the
                service uses it, sentences cut at 128 tokens).
        """
        from ner.inference.pipeline import prepare_texts  # the pipeline builds on this module

        tokenizer = tokenizer or self.default_tokenizer()
        return self.tag_prepared(prepare_texts(self, tokenizer, texts), batch_size)

    def default_tokenizer(self) -> Tokenizer:
        """The model's own tokenizer (sentences cut at 128 tokens), made once: building one compiles
        its pattern, which costs more than tagging a short sentence. Its word cache is bounded."""
        if self._tokenizer is None:
            from ner.text.tokenize import Tokenizer

            self._tokenizer = Tokenizer(style=self.tokenizer_style)
        return self._tokenizer

    def tag_prepared(self, prepared: Prepared, batch_size: int = 256) -> list[list[TextEntity]]:
        """Entities of texts already prepared by :mod:`ner.inference.pipeline` (tokenised, planned)."""
        from ner.inference.pipeline import entities_of

        plan = prepared.plan
        return entities_of(prepared, self.predict(plan.units, batch_size, True, plan.groups))

    def predict_documents(
        self, documents: list[list[list[str]]], batch_size: int = 256, scores: bool = True
    ) -> list[list[Prediction]]:
        """:meth:`predict` for the sentences of each document, read with the context the model was
        trained for: with ``context`` > 0, consecutive sentences of one document (never of two) are
        read together in windows of up to ``context`` tokens; a model without it reads each sentence
        alone, exactly as :meth:`predict`. Every window is read once, so the cost is that of the
        tokens, and memory is bounded by the window, whatever the document's length.

        With document ``memory``, each sentence is read alone, with what the model remembers of
        the other sentences of its block of the document (blocks of up to ``memory`` tokens)."""
        plan = self.reading_plan(documents)
        return plan.regroup(self.predict(plan.units, batch_size, scores, plan.groups))

    def reading_plan(self, documents: list[list[list[str]]]) -> ReadingPlan:
        """What the model reads for ``documents`` (see :meth:`predict_documents`), for callers that run
        :meth:`predict` elsewhere (the service's batcher)."""
        return ReadingPlan.of(documents, self.context, self.memory, self.data_scheme)

    def tag_documents(self, documents: list[list[list[str]]], batch_size: int = 256) -> list[list[list[str]]]:
        """Tags for each sentence of each document (see :meth:`predict_documents`)."""
        return [[p.tags for p in d] for d in self.predict_documents(documents, batch_size, scores=False)]

    def tag(self, sentences: list[list[str]], batch_size: int = 256) -> list[list[str]]:
        """Tags for each sentence, in the scheme of the data the model was trained on."""
        return [p.tags for p in self.predict(sentences, batch_size=batch_size, scores=False)]

    def predict(
        self,
        sentences: list[list[str]],
        batch_size: int = 256,
        scores: bool = True,
        groups: list[int] | None = None,
    ) -> list[Prediction]:
        """Tags and scored entities for each sentence (empty sentences give empty predictions). An
        entity's ``start``/``end`` here are token indices into its sentence; for character offsets
        into raw text, see :meth:`tag_texts`.

        Sentences are sorted by length and batched; results come back in input order, and a sentence
        gets the same result alone as inside any batch.

        ``groups`` (one per sentence) gives each sentence's document block for a model with document
        memory: the sentences of a block are batched together, and a block gets the same results
        alone as inside any batch. None: each sentence is a block of its own.
        """
        pieces: list[tuple[int, int, list[str]]] = []  # (sentence, offset, tokens)
        for i, tokens in enumerate(sentences):
            for offset in range(0, len(tokens), MAX_LEN):
                pieces.append((i, offset, tokens[offset : offset + MAX_LEN]))
        found: dict[int, list[Entity]] = {}
        crf_scores = self.crf_scores()
        lengths = [len(p[2]) for p in pieces]
        if self.memory > 0:  # whole blocks at a time, each read in batches sorted by length
            by_piece = [i if groups is None else groups[i] for i, _, _ in pieces]
            for span in memory_spans(lengths, by_piece, MEMORY_SPAN_TOKENS):
                found.update(
                    self._predict_remembering(pieces, span, by_piece, batch_size, crf_scores, scores)
                )
        else:
            for chunk in batch_order(lengths, batch_size):
                batch = [pieces[k][2] for k in chunk]
                emissions, read = self.emissions(batch)  # (batch, seq, num_tags), (batch,)
                found.update(zip(chunk, self.decode(emissions, read, scores, crf_scores)))
        entities: list[list[Entity]] = [[] for _ in sentences]
        for k, (i, offset, _) in enumerate(pieces):
            if offset == 0:
                entities[i] = found[k]
            else:
                entities[i].extend(
                    Entity(e.start + offset, e.end + offset, e.label, e.score) for e in found[k]
                )
        # Tags are written from the entities, so the two always agree (pieces included).
        return [
            Prediction(
                tags_from_spans(
                    [Span(e.start, e.end, e.label) for e in found], len(tokens), self.data_scheme
                ),
                found,
            )
            for tokens, found in zip(sentences, entities)
        ]

    def _predict_remembering(
        self,
        pieces: list[tuple[int, int, list[str]]],
        span: list[int],
        groups: list[int],
        batch_size: int,
        crf_scores: crf.CrfScores,
        scores: bool,
    ) -> dict[int, list[Entity]]:
        """Entities of the pieces ``span`` (whole blocks) for a model with document memory: the
        BiLSTM's states batch by batch, each batch's emission scores without the memory, and the states
        of its capitalised tokens kept; then the memory over all of those (``Backend.recall``) added in,
        and paths, batch by batch. Batches are sorted by length, whatever the blocks, so that little
        is padding; a block gets the same answers in any span."""
        batches = batch_order([len(pieces[k][2]) for k in span], batch_size)
        read = []
        kept, keys = [], []
        for batch in ([span[i] for i in b] for b in batches):
            emissions, lengths, states, batch_keys, rows = self._read_remembering(
                [pieces[k][2] for k in batch], [groups[k] for k in batch]
            )
            kept.append(states)
            keys.append(batch_keys)
            read.append((batch, emissions, lengths, rows))
        self._add_recalled([(emissions, rows) for _, emissions, _, rows in read], kept, keys)
        found: dict[int, list[Entity]] = {}
        for batch, emissions, lengths, _ in read:
            found.update(zip(batch, self.decode(emissions, lengths, scores, crf_scores)))
        return found

    def decode(
        self,
        emissions: np.ndarray,
        lengths: np.ndarray,
        scores: bool = True,
        crf_scores: crf.CrfScores | None = None,
    ) -> list[list[Entity]]:
        """Entities of each sentence of a batch from its emissions (batch, seq, num_tags) and lengths
        (batch,), with their probabilities if ``scores`` (else NaN). ``crf_scores``: the
        :meth:`crf_scores` (given by callers that decode many batches)."""
        crf_scores = crf_scores or self.crf_scores()
        best = crf.viterbi(emissions, lengths, crf_scores)  # (batch, seq), -1 past each end
        rows, starts, ends, labels = self._spans(best, lengths)  # one entry per entity
        probs = np.full(len(rows), math.nan)
        if scores and len(rows):  # the forward-backward pass, for the sentences with an entity only
            first = np.ones(len(rows), dtype=bool)  # rows come sorted: where each sentence's run starts
            first[1:] = rows[1:] != rows[:-1]
            scored, row = rows[first], np.cumsum(first) - 1  # the sentences, and each span's among them
            width = int(lengths[scored].max())
            soft = crf_scores.scaled(self.temperature)
            emitted = emissions[scored, :width] / self.temperature  # (scored, width, num_tags)
            fb = crf.forward_backward(emitted, lengths[scored], soft)
            logp = crf.span_log_probs(fb, emitted, soft, best[scored, :width], row, starts, ends)
            probs = np.minimum(1.0, np.exp(logp))
        out: list[list[Entity]] = [[] for _ in range(len(emissions))]
        for b, start, end, label, prob in zip(
            rows.tolist(), starts.tolist(), ends.tolist(), labels, probs.tolist()
        ):
            out[b].append(Entity(start, end, label, prob))
        return out

    def _spans(
        self, best: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Entities of Viterbi paths (batch, seq), read as conlleval reads them: arrays of sentence,
        first token, end token (exclusive), and a list of labels, in reading order.

        With IOBES tags and every move allowed, an entity opens at each B- or S- tag and closes after
        each E- or S- tag, so all of a batch is read at once. A path with a forbidden move (it would
        take every path being forbidden) is read tag by tag instead."""
        codes = self._codes
        kind = codes.kind[best]  # (batch, seq): 0 for O and padding (index -1 reads the last entry)
        moves_ok = codes.allowed[best[:, :-1], best[:, 1:]] | (best[:, 1:] < 0)  # (batch, seq - 1)
        well_formed = (
            codes.allowed[codes.start, best[:, 0]]
            & codes.allowed[best[np.arange(len(best)), lengths - 1], codes.end]
            & moves_ok.all(axis=1)
        )
        if codes.iobes and well_formed.all():
            rows, starts = np.nonzero((kind == _B) | (kind == _S))
            _, last = np.nonzero((kind == _E) | (kind == _S))
            names = codes.label_names
            return rows, starts, last + 1, [names[k] for k in codes.label[best[rows, starts]].tolist()]
        found: list[tuple[int, int, int, str]] = []
        tags = self.encoder.tags.items
        for b, n in enumerate(lengths.tolist()):
            spans = spans_from_tags([tags[k] for k in best[b, :n]])
            found.extend((b, span.start, span.end, span.label) for span in spans)
        rows, starts, ends = (np.array([f[i] for f in found], dtype=np.intp) for i in range(3))
        return rows, starts, ends, [f[3] for f in found]
