"""The PyTorch network as a backend (:class:`ner.model.backend.Backend`): training's own model, on the
CPU or a GPU. The CRF runs in numpy on the CPU whatever the device (see :mod:`ner.model.crf`), so the
only copies off the device are a batch's states or emission scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ner.encoding.batch import Batch
from ner.encoding.encode import Arrays
from ner.model.checkpoint import WORD_SCALE, quantize_rows, word_vectors
from ner.model.config import ModelConfig
from ner.model.crf import CrfScores
from ner.model.network import BiLstmCrf, recall_means, values_key


class TorchBackend:
    """A :class:`BiLstmCrf` on one device. While it trains, the tagger reads the weights as they are
    at each call (nothing is copied out that a step could leave stale)."""

    kind = "torch"

    def __init__(self, model: BiLstmCrf, device: torch.device) -> None:
        self.model = model.to(device)
        self.torch_device = device
        self._proj: tuple[tuple[int, ...], Tensor, Tensor] | None = None  # (key, weight, bias)

    @property
    def device(self) -> str:
        return str(self.torch_device)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def _batch(self, arrays: Arrays) -> Batch:
        if self.model.training:
            self.model.eval()  # tagging in the middle of training: no dropout
        return Batch.of(arrays).to(self.torch_device)

    def emissions(self, arrays: Arrays) -> np.ndarray:
        with torch.inference_mode():
            emissions = self.model.emissions(self._batch(arrays))  # (batch, seq, num_tags)
            out: np.ndarray = emissions.float().cpu().numpy()
        return out

    def states(self, arrays: Arrays) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = self.model.states(self._batch(arrays)).float().cpu().numpy()
        return out  # (batch, seq, 2 * hidden)

    # The output layer runs in torch on the CPU, where the states are: about 3x numpy's matrix product
    # for these shapes (256 x 30 rows of 256 numbers against 17 columns).
    def emit(self, states: np.ndarray) -> np.ndarray:
        weight, bias = self._output_layer()  # (num_tags, 4 * hidden), (num_tags,)
        with torch.inference_mode():
            emitted = nn.functional.linear(torch.from_numpy(states), weight[:, : states.shape[2]], bias)
            out: np.ndarray = emitted.numpy()
        return out

    def emit_recalled(self, recalled: np.ndarray) -> np.ndarray:
        weight, _ = self._output_layer()
        with torch.inference_mode():
            out: np.ndarray = (torch.from_numpy(recalled) @ weight[:, recalled.shape[1] :].T).numpy()
        return out

    def recall(self, states: np.ndarray, keys: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = recall_means(torch.from_numpy(states), torch.from_numpy(keys)).numpy()
        return out  # as in training, and about 3x numpy's sort and reduceat

    def transitions(self) -> CrfScores:
        return self.model.transitions()

    def state(self) -> dict[str, Tensor]:
        """The weights as a checkpoint holds them: on the CPU, the word embedding in int8, a quarter
        of its size (see :func:`ner.model.checkpoint.quantize_rows`)."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        rows, scale = quantize_rows(state["word_embed.weight"].float().numpy())
        state["word_embed.weight"] = torch.from_numpy(rows)
        state[WORD_SCALE] = torch.from_numpy(scale)
        return state

    def _output_layer(self) -> tuple[Tensor, Tensor]:
        """The output layer as float32 CPU tensors, its weight (num_tags, 4 * hidden) and bias,
        remembered while its values stay."""
        proj = self.model.proj
        key = values_key(proj.weight, proj.bias)
        if self._proj is None or self._proj[0] != key:
            self._proj = (key, proj.weight.detach().float().cpu(), proj.bias.detach().float().cpu())
        return self._proj[1], self._proj[2]


def load_torch_backend(obj: dict[str, Any], device: torch.device) -> TorchBackend:
    """From :func:`ner.model.checkpoint.load_checkpoint`'s dictionary."""
    model = BiLstmCrf(*ModelConfig.of_checkpoint(obj["model_config"]))
    state = dict(obj["state_dict"])
    state["word_embed.weight"] = torch.from_numpy(word_vectors(state))
    model.load_state_dict(state)
    model.eval()
    return TorchBackend(model, device)
