"""The ONNX Runtime backend: the BiLSTM's states from a graph that ``ner export --format onnx`` wrote
(:mod:`ner.model.onnx_export`), everything after them as in the numpy backend (the output layer, the
document memory, the CRF's scores). No PyTorch; the ``onnx`` extra's ``onnxruntime``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ner.encoding.encode import Arrays
from ner.model.config import ModelConfig
from ner.model.kernels import mark_bits, mirror
from ner.model.numpy_backend import NumpyBackend
from ner.runtime import InputError


def graph_path(checkpoint: str | Path) -> Path:
    """Where ``ner export --format onnx`` puts a checkpoint's graph by default: beside it, ``.onnx``."""
    return Path(checkpoint).with_suffix(".onnx")


class OnnxBackend(NumpyBackend):
    """:class:`NumpyBackend` with the states from ONNX Runtime, one thread."""

    kind = "onnx"

    def __init__(
        self, config: ModelConfig, state: dict[str, np.ndarray], graph: Path, threads: int = 1
    ) -> None:
        super().__init__(config, state)
        try:
            import onnxruntime
        except ImportError:
            raise InputError("the onnx backend needs the extra: pip install 'ner-service[onnx]'") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for a missing or broken file
            raise InputError(f"not a usable ONNX graph ({str(exc).splitlines()[0][:200]})", graph) from None

    def states(self, arrays: Arrays) -> np.ndarray:
        (states,) = self.session.run(None, graph_feed(arrays, self.marks))
        out: np.ndarray = states
        return out


def graph_feed(arrays: Arrays, marks: int) -> dict[str, np.ndarray]:
    """The graph's inputs, by name, for a batch of encoded sentences: words, chars, char_index,
    casing, flip, live, and with ``marks`` > 0 the name lists' feature of that width."""
    flip = mirror(arrays.lengths, arrays.words.shape[1])
    live = arrays.mask[:, :, None].astype(np.float32)
    feed = {
        "words": arrays.words, "chars": arrays.chars, "char_index": arrays.char_index,
        "casing": arrays.casing, "flip": flip, "live": live,
    }  # fmt: skip
    if marks:
        feed["marks"] = mark_bits(arrays.gazetteer, marks)
    return feed


def load_onnx_backend(obj: dict[str, Any], checkpoint: str | Path) -> OnnxBackend:
    """From :func:`ner.model.checkpoint.load_arrays`' dictionary and the graph beside the checkpoint.

    Raises:
        InputError: no graph there (export it first).
    """
    graph = graph_path(checkpoint)
    if not graph.is_file():
        raise InputError(
            f"no ONNX graph at {graph}: write it with ner export --format onnx --model {checkpoint}",
            checkpoint,
        )
    config, _ = ModelConfig.of_checkpoint(obj["model_config"])
    return OnnxBackend(config, obj["state_dict"], graph)
