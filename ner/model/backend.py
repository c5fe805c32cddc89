"""What a backend computes for the tagger (:class:`ner.inference.tagger.Tagger`): the network up to
its emission scores, and the CRF's scores. Everything before (encoding) and after (Viterbi, entities,
their probabilities, the document memory's bookkeeping) is the tagger's, the same for every backend.

Two backends implement it: PyTorch (:mod:`ner.model.torch_backend`, training and GPUs) and numpy
(:mod:`ner.model.numpy_backend`, no PyTorch, fast start). All arrays in and out are numpy, on the CPU;
scores are float32.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ner.encoding.encode import Arrays
from ner.model.crf import CrfScores


class Backend(Protocol):
    """A trained network, ready to compute on one device."""

    @property
    def kind(self) -> str:
        """Which backend: "torch" or "numpy"."""
        ...

    @property
    def device(self) -> str:
        """Where it computes: "cpu", "cuda", "cuda:1"."""
        ...

    @property
    def parameters(self) -> int:
        """How many numbers the network holds."""
        ...

    def emissions(self, arrays: Arrays) -> np.ndarray:
        """Emission scores (batch, seq, num_tags) of a batch, each sentence read alone (called for
        models without document memory)."""
        ...

    def states(self, arrays: Arrays) -> np.ndarray:
        """The BiLSTM's states (batch, seq, 2 * hidden), each sentence read alone, zero past each end."""
        ...

    def emit(self, states: np.ndarray) -> np.ndarray:
        """Emission scores (batch, seq, num_tags) of ``states`` (batch, seq, dim) as if nothing were
        recalled: the output layer's first ``dim`` columns and its bias."""
        ...

    def emit_recalled(self, recalled: np.ndarray) -> np.ndarray:
        """What the document memory adds to the emission scores (tokens, num_tags) of tokens that
        recall ``recalled`` (tokens, dim): the output layer's last ``dim`` columns."""
        ...

    def recall(self, states: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """For each of (tokens, dim) ``states``, the mean state of the other tokens with the same key
        (tokens,); zeros for a key seen once (:func:`ner.model.kernels.recall_flat`)."""
        ...

    def transitions(self) -> CrfScores:
        """The CRF's start, transition and end scores as they were trained (nothing masked), float32;
        the same object while the weights stay the same."""
        ...
