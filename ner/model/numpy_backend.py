"""The network's forward pass in numpy: tagging on the CPU without importing PyTorch.

Importing torch takes 2-3 s on a small machine, more than tagging a few thousand texts, and a corpus
job on N processes pays it N times. :class:`NumpyBackend` reads the same checkpoint without torch
(:func:`ner.model.checkpoint.load_arrays`) and computes what :class:`ner.model.backend.Backend` asks,
as :class:`ner.model.network.BiLstmCrf` does in eval mode, up to float rounding. The PyTorch model
stays the reference (and what trains); tests check that both give the same tags and scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ner.encoding.encode import Arrays
from ner.model import crf
from ner.model.checkpoint import word_vectors
from ner.model.config import ModelConfig
from ner.model.kernels import char_windows, mark_bits, mirror, recall_flat


class _Direction:
    """One direction of one recurrent layer: gates ``x @ w_ih.T + h @ w_hh.T + biases``.

    An LSTM's gates are stored in the order input, forget, output, cell (PyTorch's is i, f, g, o), the
    first three halved: one ``tanh`` over all gates then gives the sigmoids too, by
    sigmoid(a) = (tanh(a / 2) + 1) / 2, and they lie side by side for one in-place fix-up."""

    def __init__(self, cell: str, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray):
        self.cell = cell
        n = w_hh.shape[1]
        self.hidden = n
        if cell == "lstm":
            order = np.r_[0 : 2 * n, 3 * n : 4 * n, 2 * n : 3 * n]  # i, f, o, g
            scale = np.r_[np.full(3 * n, 0.5), np.ones(n)].astype(np.float32)[:, None]
            w_ih, w_hh = w_ih[order] * scale, w_hh[order] * scale
            bias = (b_ih + b_hh)[order] * scale[:, 0]
        else:  # gru: reset and update gates sum both biases; the candidate's hidden bias stays apart
            bias = np.concatenate([b_ih[: 2 * n] + b_hh[: 2 * n], b_ih[2 * n :]])
            self.b_hn = b_hh[2 * n :]  # (hidden,)
        self.w_ih_t = np.ascontiguousarray(w_ih.T)  # (features, gates * hidden)
        self.w_hh_t = np.ascontiguousarray(w_hh.T)  # (hidden, gates * hidden)
        self.bias = bias.astype(np.float32)

    def run(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(batch, seq, features) -> (batch, seq, hidden), reading left to right from a zero state.

        Sentences must come longest first (``lengths`` descending): step ``t`` then computes only the
        rows still inside their sentence, a prefix of the batch. Past each end the output is zero."""
        batch, seq, _ = x.shape
        n = self.hidden
        live = (lengths[None, :] > np.arange(seq)[:, None]).sum(axis=1)  # (seq,): rows alive at t
        time_major = np.ascontiguousarray(x.transpose(1, 0, 2))  # (seq, batch, features)
        projected = time_major.reshape(seq * batch, -1) @ self.w_ih_t + self.bias
        projected = projected.reshape(seq, batch, -1)  # (seq, batch, gates * hidden)
        out = np.zeros((seq, batch, n), dtype=np.float32)
        h = np.zeros((batch, n), dtype=np.float32)
        c = np.zeros((batch, n), dtype=np.float32)
        gates = np.empty((batch, self.w_hh_t.shape[1]), dtype=np.float32)
        tmp = np.empty((batch, n), dtype=np.float32)
        for t in range(seq):
            b = int(live[t])
            g, hb, cb, tb = gates[:b], h[:b], c[:b], tmp[:b]
            np.matmul(hb, self.w_hh_t, out=g)  # (b, gates * hidden)
            if self.cell == "lstm":
                g += projected[t, :b]
                np.tanh(g, out=g)
                sig = g[:, : 3 * n]
                sig *= 0.5
                sig += 0.5  # input, forget, output gates
                cb *= g[:, n : 2 * n]
                np.multiply(g[:, :n], g[:, 3 * n :], out=tb)
                cb += tb
                np.tanh(cb, out=tb)
                np.multiply(g[:, 2 * n : 3 * n], tb, out=hb)
            else:
                p = projected[t, :b]
                rz = g[:, : 2 * n]
                rz += p[:, : 2 * n]
                rz *= 0.5
                np.tanh(rz, out=rz)
                rz *= 0.5
                rz += 0.5  # reset and update gates
                candidate = g[:, 2 * n :]
                candidate += self.b_hn
                candidate *= rz[:, :n]
                candidate += p[:, 2 * n :]
                np.tanh(candidate, out=candidate)
                z = rz[:, n:]
                hb -= candidate
                hb *= z
                hb += candidate  # h = (1 - z) * candidate + z * h
            out[t, :b] = hb
        return out.transpose(1, 0, 2)  # (batch, seq, hidden)


class _Gate:
    """:class:`ner.model.network.WordCharGate` in numpy."""

    def __init__(self, f32: dict[str, np.ndarray]) -> None:
        names = ("spell", "hidden", "gate")
        self.w = {name: np.ascontiguousarray(f32[f"gate.{name}.weight"].T) for name in names}
        self.b = {name: f32[f"gate.{name}.bias"] for name in names}

    def __call__(self, words: np.ndarray, spelled: np.ndarray) -> np.ndarray:
        """(batch, seq, word_dim) and (batch, seq, filters) -> (batch, seq, word_dim)."""
        m = np.tanh(spelled @ self.w["spell"] + self.b["spell"])
        a = np.tanh(np.concatenate([words, m], axis=-1) @ self.w["hidden"] + self.b["hidden"])
        z = 0.5 * (np.tanh(0.5 * (a @ self.w["gate"] + self.b["gate"])) + 1)  # the sigmoid
        mixed: np.ndarray = (z * (words - m) + m).astype(np.float32, copy=False)
        return mixed


class NumpyBackend:
    """A checkpoint's network computed in numpy on the CPU, one thread (numpy's BLAS may use more)."""

    device = "cpu"
    kind = "numpy"

    def __init__(self, config: ModelConfig, state: dict[str, np.ndarray]) -> None:
        self.config = config
        state = dict(state)
        self.word_embed = word_vectors(state)  # (words, word_dim); takes the int8 scale out of state
        f32 = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        self.parameters = int(self.word_embed.size + sum(v.size for v in f32.values()))
        self.casing_embed = f32.get("casing_embed.weight")  # (casings, casing_dim) or None
        self.window = config.char_window
        # the convolution as one table per window position (see ner.model.network.CharCNN._tables)
        embed, conv = f32["char_cnn.embed.weight"], f32["char_cnn.conv.weight"]  # (c, d), (f, d, k)
        tables = np.einsum("cd,fdk->kcf", embed, conv)  # (window, chars, filters)
        tables = np.concatenate([tables, np.zeros_like(tables[:, :1])], axis=1)  # a zero row: outside
        if "char_cnn.conv.bias" in f32:
            tables[self.window // 2, :-1] += f32["char_cnn.conv.bias"]
        self.char_tables = tables  # (window, chars + 1, filters)
        self.layers = [
            [
                _Direction(config.cell, *(f32[f"rnn.{p}_l{layer}{suffix}"] for p in _RNN_PARAMS))
                for suffix in ("", "_reverse")
            ]
            for layer in range(config.layers)
        ]
        self.gate = _Gate(f32) if config.combine == "gate" else None
        self.marks = f32["rnn.weight_ih_l0"].shape[1] - config.input_dim  # the name lists' feature width
        self.proj_t = np.ascontiguousarray(f32["proj.weight"].T)  # (2 or 4 * hidden, num_tags)
        self.proj_b = f32["proj.bias"]
        self._transitions = crf.CrfScores(
            f32["crf.start_transitions"], f32["crf.transitions"], f32["crf.end_transitions"]
        )

    def transitions(self) -> crf.CrfScores:
        return self._transitions

    def emissions(self, arrays: Arrays) -> np.ndarray:
        return self.emit(self.states(arrays))

    def states(self, arrays: Arrays) -> np.ndarray:
        words, spelled = self.word_embed[arrays.words], self._spelled(arrays.chars)[arrays.char_index]
        parts = [words, spelled] if self.gate is None else [self.gate(words, spelled)]
        if self.casing_embed is not None:
            parts.append(self.casing_embed[arrays.casing])
        if self.marks:
            parts.append(mark_bits(arrays.gazetteer, self.marks))
        x = np.concatenate(parts, axis=2)  # (batch, seq, features)
        order = np.argsort(-arrays.lengths, kind="stable")  # longest first, as _Direction.run wants
        x, lengths = x[order], arrays.lengths[order]
        flip = mirror(lengths, x.shape[1])  # (batch, seq): each sentence reversed in place
        rows = np.arange(len(x))[:, None]  # (batch, 1)
        for forward, backward in self.layers:
            ahead = forward.run(x, lengths)  # (batch, seq, hidden), zero past each end
            behind = backward.run(x[rows, flip], lengths)[rows, flip]  # (batch, seq, hidden)
            x = np.concatenate([ahead, behind], axis=2)  # (batch, seq, 2 * hidden)
        states = np.empty_like(x)
        states[order] = x  # (batch, seq, 2 * hidden), in input order
        return states

    def emit(self, states: np.ndarray) -> np.ndarray:
        dim = states.shape[2]
        flat = states.reshape(-1, dim) @ self.proj_t[:dim] + self.proj_b  # one product for the batch
        out: np.ndarray = flat.reshape(*states.shape[:2], -1).astype(np.float32, copy=False)
        return out

    def emit_recalled(self, recalled: np.ndarray) -> np.ndarray:
        out: np.ndarray = (recalled @ self.proj_t[recalled.shape[1] :]).astype(np.float32, copy=False)
        return out

    def recall(self, states: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return recall_flat(states, keys)

    def _spelled(self, chars: np.ndarray) -> np.ndarray:
        """(words, chars) 0-padded character indices -> (words, filters) character-CNN features, by
        table lookups over the words' characters laid end to end (:func:`ner.model.kernels.char_windows`)."""
        tables = self.char_tables
        index, counts = char_windows(chars, self.window, tables.shape[1] - 1)  # (characters, window)
        h = tables[0][index[:, 0]]  # (characters, filters)
        for k in range(1, self.window):
            h += tables[k][index[:, k]]
        pooled = np.zeros((len(chars), tables.shape[2]), dtype=np.float32)  # (words, filters)
        spelled = counts > 0
        if spelled.any():
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[spelled]
            pooled[spelled] = np.maximum.reduceat(h, starts, axis=0)
        return pooled


def load_numpy_backend(obj: dict[str, Any]) -> NumpyBackend:
    """From :func:`ner.model.checkpoint.load_arrays`' dictionary (numpy arrays for tensors)."""
    config, _ = ModelConfig.of_checkpoint(obj["model_config"])
    return NumpyBackend(config, obj["state_dict"])


_RNN_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
