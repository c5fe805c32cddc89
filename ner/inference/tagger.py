"""Loading a checkpoint and tagging token lists: the core API, plain Python in and out."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ner.encoding.batch import Batch
from ner.encoding.encode import Encoder
from ner.encoding.vocab import Vocab, WordVocab
from ner.inference.core import MAX_LEN, TaggerCore
from ner.model import crf
from ner.model.bundled import default_model_path
from ner.model.checkpoint import FORMAT_VERSION, WORD_SCALE, load_checkpoint, quantize_rows, word_vectors
from ner.model.config import ModelConfig
from ner.model.network import BiLstmCrf, recall_means, values_key
from ner.runtime import InputError
from ner.text.results import Entity, Prediction
from ner.text.tags import Scheme

__all__ = ["MAX_LEN", "Entity", "Prediction", "Tagger", "resolve_device"]

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` is the GPU when there is one, else the CPU; asking for a missing GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} asked for, but no CUDA GPU is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"unknown device {name!r} (expected auto, cpu or cuda)")
    return torch.device(name)


class Tagger(TaggerCore):
    """A trained model with its vocabularies and tag schemes, ready to tag on one device.

    ``tag`` and ``predict`` take token lists (entity ``start``/``end`` are token indices);
    ``tag_texts`` takes raw strings (entity ``start``/``end`` are character offsets, as over HTTP)."""

    def __init__(
        self,
        model: BiLstmCrf,
        encoder: Encoder,
        model_scheme: Scheme,
        data_scheme: Scheme,
        metadata: dict[str, Any],
        device: torch.device,
    ) -> None:
        super().__init__(
            encoder, model_scheme, data_scheme, metadata, model.config.context, model.config.memory
        )
        self.model = model.to(device)
        self.device = device
        self._proj: tuple[tuple[int, ...], Tensor, Tensor] | None = None  # (key, weight, bias)
        model.constrain(torch.from_numpy(self.allowed).to(device))

    # Checkpoint keys are written and read here only.
    def checkpoint(self) -> dict[str, Any]:
        """The model as plain data; the word embedding is stored in int8, a quarter of its size (see
        :func:`ner.model.checkpoint.quantize_rows`)."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        rows, scale = quantize_rows(state["word_embed.weight"].float().numpy())
        state["word_embed.weight"] = torch.from_numpy(rows)
        state[WORD_SCALE] = torch.from_numpy(scale)
        return {
            "format_version": FORMAT_VERSION,
            "model_config": asdict(self.model.config),
            "vocab": {
                "words": self.encoder.words.items,
                "chars": self.encoder.chars.items,
                "tags": self.encoder.tags.items,
            },
            "scheme": {"model": self.model_scheme, "data": self.data_scheme},
            "metadata": self.metadata,
            "state_dict": state,
        }

    @classmethod
    def from_checkpoint(cls, obj: dict[str, Any], device: torch.device) -> Tagger:
        vocab = obj["vocab"]
        encoder = Encoder(
            WordVocab(vocab["words"][2:]), Vocab(vocab["chars"][2:]), Vocab(vocab["tags"], specials=False)
        )
        model = BiLstmCrf(ModelConfig(**obj["model_config"]))
        state = dict(obj["state_dict"])
        state["word_embed.weight"] = torch.from_numpy(word_vectors(state))
        model.load_state_dict(state)
        model.eval()
        scheme = obj["scheme"]
        return cls(model, encoder, scheme["model"], scheme["data"], obj["metadata"], device)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto") -> Tagger:
        """Load a checkpoint file written by ``ner train``; with no path, the bundled model
        (``NER_MODEL`` if set, see :func:`ner.model.bundled.default_model_path`).

        Raises:
            InputError: a missing, damaged or incompatible file, or an unavailable device.
        """
        path = default_model_path() if path is None else path
        obj = load_checkpoint(path)
        try:
            return cls.from_checkpoint(obj, resolve_device(device))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"checkpoint does not match this model ({exc})", path) from None

    def predict(
        self,
        sentences: list[list[str]],
        batch_size: int = 256,
        scores: bool = True,
        groups: list[int] | None = None,
    ) -> list[Prediction]:
        if self.model.training:
            self.model.eval()
        with torch.inference_mode():
            return super().predict(sentences, batch_size, scores, groups)

    predict.__doc__ = TaggerCore.predict.__doc__

    def _emissions(
        self, sentences: list[list[str]], groups: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        batch = Batch.of(self.encoder.arrays(sentences))
        if groups is not None:
            batch.groups = torch.tensor(groups)
        batch = batch.to(self.device)
        # the only copy off the device: the CRF runs on the CPU (see ner/model/crf.py)
        emissions = self.model.emissions(batch).float().cpu().numpy()  # (batch, seq, num_tags)
        return emissions, batch.lengths.numpy()

    def _states(self, sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        batch = Batch.of(self.encoder.arrays(sentences))
        states = self.model.states(batch.to(self.device)).float().cpu().numpy()  # (batch, seq, 2 * hidden)
        return states, batch.lengths.numpy(), batch.words.numpy(), batch.casing.numpy()

    def _recall(self, states: np.ndarray, keys: np.ndarray) -> np.ndarray:
        out: np.ndarray = recall_means(torch.from_numpy(states), torch.from_numpy(keys)).numpy()
        return out  # as in training, and about 3x numpy's sort and reduceat

    # The output layer runs in torch on the CPU, where the states are: about 3x numpy's matrix product
    # for these shapes (256 x 30 rows of 256 numbers against 17 columns).
    def _emit(self, states: np.ndarray) -> np.ndarray:
        weight, bias = self._output_layer()  # (num_tags, 4 * hidden), (num_tags,)
        emitted = nn.functional.linear(torch.from_numpy(states), weight[:, : states.shape[2]], bias)
        out: np.ndarray = emitted.numpy()
        return out

    def _emit_recalled(self, recalled: np.ndarray) -> np.ndarray:
        weight, _ = self._output_layer()
        out: np.ndarray = (torch.from_numpy(recalled) @ weight[:, recalled.shape[1] :].T).numpy()
        return out

    def _output_layer(self) -> tuple[Tensor, Tensor]:
        """The output layer as float32 CPU tensors, its weight (num_tags, 4 * hidden) and bias,
        remembered while its values stay."""
        proj = self.model.proj
        key = values_key(proj.weight, proj.bias)
        if self._proj is None or self._proj[0] != key:
            self._proj = (key, proj.weight.detach().float().cpu(), proj.bias.detach().float().cpu())
        return self._proj[1], self._proj[2]

    def _crf_scores(self) -> crf.CrfScores:
        return self.model.crf_scores()  # the model remembers them while its weights stay
