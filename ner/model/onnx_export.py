"""``ner export --format onnx``: the network up to the BiLSTM's states as an ONNX graph, for the ONNX
Runtime backend (:mod:`ner.model.onnx_backend`). The output layer, the document memory and the CRF
stay in numpy, as in the numpy backend. Needs PyTorch and the ``onnx`` extra."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ner.encoding.batch import Batch
from ner.encoding.encode import Encoder
from ner.model.checkpoint import encoder_of, load_checkpoint
from ner.model.kernels import FORBIDDEN
from ner.model.network import BiLstmCrf, word_and_spelling
from ner.model.onnx_backend import graph_feed
from ner.model.torch_backend import load_torch_backend
from ner.runtime import InputError

OPSET = 17


class StatesGraph(nn.Module):
    """:meth:`BiLstmCrf.states` in eval mode, written for a graph: the convolution as such (no
    table lookups), each direction of each layer an LSTM (or GRU) of its own over right-padded input,
    the backward one reading each sentence reversed in place through ``flip``
    (:func:`ner.model.kernels.mirror`), and ``live`` (batch, seq, 1) zeroing what lies past each end."""

    def __init__(self, model: BiLstmCrf) -> None:
        super().__init__()
        weight = model.word_embed.state_dict()["weight"]  # a partly frozen embedding's whole table too
        self.word_embed = nn.Embedding(*weight.shape)
        self.word_embed.weight.data.copy_(weight)
        self.casing_embed = model.casing_embed
        self.char_embed = model.char_cnn.embed
        self.conv = model.char_cnn.conv
        self.gate = model.gate
        rnn = model.rnn
        cell = nn.LSTM if isinstance(rnn, nn.LSTM) else nn.GRU
        self.layers: list[tuple[nn.RNNBase, nn.RNNBase]] = []
        for layer in range(rnn.num_layers):
            pair = []
            for suffix in ("", "_reverse"):
                inputs = getattr(rnn, f"weight_ih_l{layer}").shape[1]
                one = cell(inputs, rnn.hidden_size, batch_first=True)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(one, f"{name}_l0").data.copy_(getattr(rnn, f"{name}_l{layer}{suffix}").detach())
                pair.append(one)
                self.add_module(f"rnn_l{layer}{suffix}", one)
            self.layers.append((pair[0], pair[1]))

    def forward(
        self,
        words: torch.Tensor,
        chars: torch.Tensor,
        char_index: torch.Tensor,
        casing: torch.Tensor,
        flip: torch.Tensor,
        live: torch.Tensor,
        marks: torch.Tensor | None = None,  # (batch, seq, 4 * lists) float bits, for a model with name lists
    ) -> torch.Tensor:
        h = self.conv(self.char_embed(chars).transpose(1, 2))  # (rows, filters, width)
        h = h.masked_fill((chars == 0).unsqueeze(1), FORBIDDEN)  # padding never wins the max
        pooled = h.max(dim=2).values.masked_fill((chars[:, 0] == 0).unsqueeze(1), 0.0)  # (rows, filters)
        parts = word_and_spelling(self.gate, self.word_embed(words), pooled[char_index])
        if self.casing_embed is not None:
            parts.append(self.casing_embed(casing))
        if marks is not None:
            parts.append(marks)
        x = torch.cat(parts, dim=2)  # (batch, seq, features)
        index = flip.unsqueeze(2)  # (batch, seq, 1)
        for forward, backward in self.layers:
            ahead, _ = forward(x)
            behind, _ = backward(x.gather(1, index.expand(-1, -1, x.shape[2])))
            behind = behind.gather(1, index.expand(-1, -1, behind.shape[2]))
            x = torch.cat([ahead, behind], dim=2) * live  # (batch, seq, 2 * hidden), zero past each end
        return x


def graph_inputs(encoder: Encoder, sentences: list[list[str]]) -> dict[str, np.ndarray]:
    """The graph's inputs for a batch of sentences (none empty)."""
    return graph_feed(encoder.arrays(sentences), 0 if encoder.gazetteer is None else encoder.gazetteer.bits)


def export_onnx(model: str | Path, out: str | Path) -> float:
    """Write the graph of checkpoint ``model`` to ``out`` (atomically) and check it with ONNX Runtime
    against PyTorch on a sample batch; returns the largest difference of the states.

    Raises:
        InputError: a bad checkpoint, the ``onnx`` extra missing, or a graph that disagrees with PyTorch.
    """
    try:
        import onnxruntime
    except ImportError:
        raise InputError("exporting to ONNX needs the extra: pip install 'ner-service[onnx]'") from None
    from ner.model.checkpoint import write_atomic

    obj = load_checkpoint(model)
    encoder = encoder_of(obj)
    network = load_torch_backend(obj, torch.device("cpu")).model
    graph = StatesGraph(network).eval()
    sample = [["U.N.", "official", "Ekeus", "heads", "for", "Baghdad", "."], ["EU", "rejects", "it"], ["x"]]
    inputs = graph_inputs(encoder, sample)
    names = list(inputs)  # as ner.model.onnx_backend.graph_feed names them
    tensors = tuple(torch.from_numpy(inputs[name]) for name in names)
    axes = {name: {0: "batch", 1: "seq"} for name in (*names, "states")}
    axes["chars"] = {0: "spellings", 1: "width"}
    out = Path(out)
    scratch = out.with_name(f".{out.name}.export")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on batch_first RNNs, not ours to act on
        torch.onnx.export(
            graph, tensors, str(scratch), input_names=names, output_names=["states"],
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )  # fmt: skip
        expected = network.states(_batch(encoder, sample)).numpy()
    try:
        session = onnxruntime.InferenceSession(str(scratch), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, inputs)
        worst = float(np.abs(got - expected).max())
        if worst > 1e-4:
            raise InputError(f"the exported graph disagrees with PyTorch by {worst:g}", model)
        write_atomic(out, lambda f: f.write(scratch.read_bytes()))
    finally:
        scratch.unlink(missing_ok=True)
    return worst


def _batch(encoder: Encoder, sentences: list[list[str]]) -> Batch:
    return Batch.of(encoder.arrays(sentences))
