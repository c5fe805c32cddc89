"""The BiLSTM-CNN-CRF: word and character-CNN embeddings, a recurrent encoder, a CRF."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torchcrf import CRF

from ner.encoding.batch import Batch
from ner.encoding.encode import REMEMBERED_CASINGS
from ner.model.config import ModelConfig, Sizes
from ner.model.crf import CrfScores
from ner.model.kernels import FORBIDDEN, char_windows, memory_keys, mirror

NUM_CASINGS = 8
MOSTLY_FULL = 0.8  # tokens / (batch * seq) above which tagging on the CPU runs the LSTM unpacked
FEW_SENTENCES = 8  # ... and so it does for batches this small, however full


def values_key(*tensors: Tensor) -> tuple[int, ...]:
    """Changes whenever one of ``tensors`` gets new values: its storage, or its version counter, which
    every in-place write bumps (optimizer steps, ``load_state_dict``, edits under ``no_grad``)."""
    return tuple(n for t in tensors for n in (t.data_ptr(), t._version))


class CharCNN(nn.Module):
    """Character embeddings, one convolution, max-pooled over each word's characters.

    In training, and on a GPU, the convolution runs as such, over words padded to the longest. In eval
    mode on the CPU it runs as table lookups over the words' characters laid end to end: the
    convolution is linear in the embeddings, so window position ``k`` adds ``table[k][char]``, where
    ``table[k]`` is ``embed.weight @ conv.weight[:, :, k].T`` (num_chars, filters). That skips the
    padding (most words are far shorter than the longest) and the matrix products: about 10x less time
    for a batch of tagging. A word's features do not depend on the other words in its batch.
    """

    def __init__(self, num_chars: int, dim: int, filters: int, window: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, window, padding=window // 2)
        self._remembered: tuple[tuple[int, ...], Tensor] | None = None  # (weights' key, tables)

    def forward(self, chars: Tensor) -> Tensor:
        """(words, chars) indices, 0-padded -> (words, filters); an all-padding row gives zeros."""
        if not self.training and chars.device.type == "cpu":
            return self._by_lookup(chars)  # on a GPU the convolution is cheap, and lookups would sync
        x = self.embed(chars).transpose(1, 2)  # (words, dim, chars)
        h: Tensor = self.conv(x)  # (words, filters, chars)
        h = h.masked_fill((chars == 0).unsqueeze(1), FORBIDDEN)  # padding never wins the max
        pooled = h.max(dim=2).values  # (words, filters)
        return pooled.masked_fill((chars[:, 0] == 0).unsqueeze(1), 0.0)  # padding words are zero

    def _tables(self) -> Tensor:
        """(window * (num_chars + 1), filters): row ``k * (num_chars + 1) + c`` is ``table[k][c]``.
        Each table ends with a zero row that stands for the convolution's zero padding, and the
        middle one carries the bias (every output has a real character in the middle). Remembered
        while the weights stay the same and no gradient is wanted (a remembered table is a constant
        to autograd)."""
        weights = [self.embed.weight, self.conv.weight]
        bias = self.conv.bias
        key = values_key(*weights, *([] if bias is None else [bias]))
        if self._remembered is not None and self._remembered[0] == key and not torch.is_grad_enabled():
            return self._remembered[1]
        tables = nn.functional.pad(torch.einsum("cd,fdk->kcf", *weights), (0, 0, 0, 1))  # (window, rows, f)
        if bias is not None:
            middle = torch.zeros((*tables.shape[:2], 1), dtype=tables.dtype, device=tables.device)
            middle[tables.shape[0] // 2, :-1] = 1.0
            tables = tables + middle * bias
        tables = tables.reshape(-1, tables.shape[2])
        if not torch.is_grad_enabled():
            self._remembered = (key, tables)
        return tables

    def _by_lookup(self, chars: Tensor) -> Tensor:
        """``forward`` without padding or matrix products (the same function, other rounding): one
        bag of ``window`` table rows summed per character, then a max per word. The index arithmetic
        runs in numpy, where each small operation costs a microsecond, not ten."""
        window = self.conv.kernel_size[0]
        tables = self._tables()  # (window * rows, filters)
        rows = tables.shape[0] // window
        spelled = chars.numpy()  # (words, chars); this path runs on the CPU only
        index, counts = char_windows(spelled, window, rows - 1)  # (characters, window); row -1: zeros
        bags = index + rows * np.arange(window)  # (characters, window): rows of the stacked tables
        h = nn.functional.embedding_bag(torch.from_numpy(bags), tables, mode="sum")  # (characters, f)
        owner = np.repeat(np.arange(len(spelled)), counts)  # (characters,): the word of each
        pooled = torch.zeros(len(spelled), h.shape[1], dtype=h.dtype)  # (words, filters)
        where = torch.from_numpy(owner)[:, None].expand_as(h)
        # the max over each word's characters; a word with none (padding) keeps its zeros
        return pooled.scatter_reduce_(0, where, h, "amax", include_self=False)


def mark_bits(codes: Tensor | None, width: int) -> Tensor:
    """:func:`ner.model.kernels.mark_bits` in PyTorch: (batch, seq) bitmasks -> (batch, seq, width)."""
    if codes is None:
        raise ValueError("this model reads name lists: encode with its gazetteer")
    shifts = torch.arange(width, device=codes.device)
    return ((codes.unsqueeze(-1) >> shifts) & 1).to(torch.float32)


class WordCharGate(nn.Module):
    """Rei, Crichton & Pyysalo (2016): the character features ``c`` are mapped to the word vector's
    size, ``m = tanh(W_m c)``, and a gate ``z = sigmoid(W_3 tanh(W_1 [x; m]))`` mixes them with the
    word vector ``x`` per dimension: ``z * x + (1 - z) * m``. A rare or unknown word can lean on its
    spelling, a frequent one on its vector."""

    def __init__(self, word_dim: int, char_filters: int) -> None:
        super().__init__()
        self.spell = nn.Linear(char_filters, word_dim)
        self.hidden = nn.Linear(2 * word_dim, word_dim)
        self.gate = nn.Linear(word_dim, word_dim)

    def forward(self, words: Tensor, spelled: Tensor) -> Tensor:
        """(..., word_dim) and (..., char_filters) -> (..., word_dim)."""
        m = torch.tanh(self.spell(spelled))
        z = torch.sigmoid(self.gate(torch.tanh(self.hidden(torch.cat([words, m], dim=-1)))))
        mixed: Tensor = z * words + (1 - z) * m
        return mixed


def word_and_spelling(gate: WordCharGate | None, words: Tensor, spelled: Tensor) -> list[Tensor]:
    """The parts of the features that come from the word vector and its spelling: both side by side,
    or the gate's mix of them."""
    return [words, spelled] if gate is None else [gate(words, spelled)]


class PartlyFrozenEmbedding(nn.Module):
    """A word embedding in training whose rows outside ``rows`` never change, stored as what it
    replaces: its state dict is one ``weight``, the whole table, as ``nn.Embedding`` has.

    A word that never occurs in the training data gets a zero gradient at every step, and Adam, NAdam
    and SGD with momentum leave a parameter with nothing but zero gradients where it is. So only the
    rows of the training words (about 20,000 of a 150,000 or 400,000 word table) are a parameter; the
    rest is a constant. The answers are the same (up to the rounding of the gradient norm) and each
    step skips the dense gradient, clipping and optimizer update of the whole table: that was more
    than half of a training step's time.
    """

    rows: Tensor  # (trainable,) buffers, set in __init__
    slot: Tensor  # (words,)
    frozen: Tensor  # (words, dim)

    def __init__(self, embedding: nn.Embedding, rows: Tensor) -> None:
        super().__init__()
        weight = embedding.weight.detach()
        self.register_buffer("rows", rows.to(weight.device), persistent=False)  # (trainable,)
        slot = torch.full((weight.shape[0],), -1, dtype=torch.long, device=weight.device)
        slot[self.rows] = torch.arange(len(rows), device=weight.device)
        self.register_buffer("slot", slot, persistent=False)  # (words,): row in ``trainable`` or -1
        self.register_buffer("frozen", weight.clone(), persistent=False)  # (words, dim)
        self.trainable = nn.Parameter(weight[self.rows].clone())  # (trainable, dim)

    def merged(self) -> Tensor:
        """The whole table as it stands (a new tensor)."""
        merged = self.frozen.clone()
        merged[self.rows] = self.trainable.detach()
        return merged

    def forward(self, words: Tensor) -> Tensor:
        """(batch, seq) word indices -> (batch, seq, dim)."""
        slot = self.slot[words]  # (batch, seq)
        live = nn.functional.embedding(slot.clamp(min=0), self.trainable)  # (batch, seq, dim)
        return torch.where((slot >= 0).unsqueeze(-1), live, self.frozen[words])

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.merged()

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        key = prefix + "weight"
        if key not in state_dict:
            missing_keys.append(key)
            return
        weight = state_dict[key].to(self.frozen.device, self.frozen.dtype)
        if weight.shape != self.frozen.shape:
            error_msgs.append(f"{key}: shape {tuple(weight.shape)}, expected {tuple(self.frozen.shape)}")
            return
        with torch.no_grad():
            self.frozen.copy_(weight)
            self.trainable.copy_(weight[self.rows])


def recall(h: Tensor, batch: Batch) -> Tensor:
    """The document memory (Luo et al. 2020, simplified to a mean): for each capitalised token
    (:data:`ner.encoding.encode.REMEMBERED_CASINGS`) with a known word, the mean of ``h``
    (batch, seq, dim) over the other such tokens of the same word (GloVe's lower-cased one) in the
    same document block (``batch.groups``); zeros for every other token and for a word seen once.
    (batch, seq, dim)."""
    groups = batch.groups if batch.groups is not None else torch.arange(len(h), device=h.device)
    casings = torch.tensor(REMEMBERED_CASINGS, device=h.device)
    live = batch.mask & torch.isin(batch.casing, casings) & (batch.words > 1)  # not padding or <unk>
    out = h.new_zeros(h.shape)
    out[live] = recall_means(h[live], memory_keys(groups[:, None], batch.words)[live])
    return out


def recall_means(states: Tensor, keys: Tensor) -> Tensor:
    """For each of (tokens, dim) ``states``, the mean state of the other tokens with the same key
    (tokens,) (its word in its block); zeros for a key seen once. (tokens, dim)."""
    _, which = torch.unique(keys, return_inverse=True)  # (tokens,): each token's key
    sums = states.new_zeros(int(which.max()) + 1 if len(which) else 0, states.shape[1])
    sums = sums.index_add(0, which, states)  # (keys, dim)
    others = torch.bincount(which, minlength=len(sums))[which] - 1  # (tokens,)
    mean: Tensor = (sums[which] - states) / others.clamp(min=1).unsqueeze(1).to(states.dtype)
    return mean


class BiLstmCrf(nn.Module):
    """Emission scores from a BiLSTM (or BiGRU) over word, casing and character features; a CRF."""

    def __init__(self, config: ModelConfig, sizes: Sizes) -> None:
        super().__init__()
        self.config = config
        self.sizes = sizes
        self.word_embed: nn.Embedding | PartlyFrozenEmbedding = nn.Embedding(
            sizes.words, config.word_dim, padding_idx=0
        )
        self.casing_embed = (
            nn.Embedding(NUM_CASINGS, config.casing_dim, padding_idx=0) if config.casing_dim else None
        )
        self.char_cnn = CharCNN(sizes.chars, config.char_dim, config.char_filters, config.char_window)
        self.gate = WordCharGate(config.word_dim, config.char_filters) if config.combine == "gate" else None
        rnn = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.rnn = rnn(
            config.input_dim + sizes.marks,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.dropout: nn.Module = nn.Dropout(config.dropout)  # training may swap in another kind
        # with document memory, each token's state is followed by the one it recalls
        self.proj = nn.Linear((4 if config.memory else 2) * config.hidden, sizes.tags)
        self.crf = CRF(sizes.tags, batch_first=True)
        self._transitions: tuple[tuple[int, ...], CrfScores] | None = None  # (scores' key, scores)

    def freeze_words_except(self, rows: Tensor) -> None:
        """Train only the word embedding's ``rows`` from now on (see :class:`PartlyFrozenEmbedding`);
        call it before the optimizer is made. The state dict keeps its shape."""
        embedding = self.word_embed
        if isinstance(embedding, PartlyFrozenEmbedding):
            raise ValueError("the word embedding is already partly frozen")
        self.word_embed = PartlyFrozenEmbedding(embedding, rows)

    def features(self, batch: Batch) -> Tensor:
        """(batch, seq, features): word, character-CNN and casing features, before dropout."""
        spelled = self.char_cnn(batch.chars)[batch.char_index]  # (batch, seq, filters)
        parts = word_and_spelling(self.gate, self.word_embed(batch.words), spelled)  # (batch, seq, *)
        if self.casing_embed is not None:
            parts.append(self.casing_embed(batch.casing))
        if self.sizes.marks:
            parts.append(mark_bits(batch.gazetteer, self.sizes.marks))
        return torch.cat(parts, dim=2)  # (batch, seq, features)

    def emissions(self, batch: Batch) -> Tensor:
        """(batch, seq, num_tags) emission scores."""
        h = self.states(batch)  # (batch, seq, 2 * hidden)
        if self.config.memory:
            h = torch.cat([h, recall(h, batch)], dim=2)  # (batch, seq, 4 * hidden)
        emissions: Tensor = self.proj(self.dropout(h))  # (batch, seq, num_tags)
        return emissions

    def states(self, batch: Batch) -> Tensor:
        """(batch, seq, 2 * hidden): the BiLSTM's states, each sentence read alone; zero past each end."""
        x = self.dropout(self.features(batch))  # (batch, seq, features)
        if bool((batch.lengths == x.shape[1]).all()):
            h, _ = self.rnn(x)  # no padding (one sentence, say): packing would only cost time
        elif self._unpacked_is_faster(x, batch.lengths):
            h = self._directions_unpacked(x, batch.lengths)
        else:
            packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        states: Tensor = h
        return states

    def _unpacked_is_faster(self, x: Tensor, lengths: Tensor) -> bool:
        """Whether to run the LSTM over padded input rather than packed (tagging on the CPU only).

        PyTorch's packed LSTM computes the input projection step by step; unpacked on the CPU it goes
        to oneDNN, about 10% faster for big batches and up to twice as fast for a few sentences, at
        the price of computing the padding. Tagging sorts sentences by length, so a batch of bulk
        tagging is mostly full; a few sentences at once (the service under light load) win even when
        half of it is padding."""
        rnn = self.rnn
        return (
            not self.training
            and x.device.type == "cpu"
            and isinstance(rnn, nn.LSTM)
            and rnn.num_layers == 1
            and rnn.proj_size == 0
            and (
                lengths.numel() <= FEW_SENTENCES
                or int(lengths.sum()) >= MOSTLY_FULL * lengths.numel() * x.shape[1]
            )
        )

    def _directions_unpacked(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The one-layer BiLSTM over right-padded ``x`` (batch, seq, features), unpacked: the backward
        direction runs forwards over each sentence reversed in place, so padding always comes last.
        (batch, seq, 2 * hidden), zero past each end, as ``pad_packed_sequence`` gives."""
        rnn = self.rnn
        steps = torch.arange(x.shape[1])[None, :]  # (1, seq)
        flip = torch.from_numpy(mirror(lengths.numpy(), x.shape[1]))[:, :, None]  # (batch, seq, 1)
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
        zeros = x.new_zeros(1, x.shape[0], rnn.hidden_size)  # (1, batch, hidden): no initial state
        outputs = []
        for suffix, inputs in (("", x), ("_reverse", x.gather(1, flip.expand_as(x)))):
            params = [getattr(rnn, f"{name}_l0{suffix}") for name in names]
            # one direction, one layer, no dropout, not training, batch first
            out, _, _ = torch.lstm(inputs, (zeros, zeros), params, rnn.bias, 1, 0.0, False, False, True)
            outputs.append(out)  # (batch, seq, hidden)
        forward, backward = outputs[0], outputs[1].gather(1, flip.expand_as(outputs[1]))
        live = (steps < lengths[:, None])[:, :, None]  # (batch, seq, 1)
        return torch.cat([forward, backward], dim=2) * live  # (batch, seq, 2 * hidden)

    def loss(self, batch: Batch, tags: Tensor) -> Tensor:
        """Mean negative log-likelihood of the gold ``tags`` (batch, seq) per sentence."""
        emissions = self.emissions(batch)  # (batch, seq, num_tags)
        log_likelihood: Tensor = self.crf(emissions, tags, mask=batch.mask, reduction="mean")
        return -log_likelihood

    def distilled_loss(self, batch: Batch, tags: Tensor, soft: Tensor, weight: float) -> Tensor:
        """``(1 - weight)`` times :meth:`loss` plus ``weight`` times the cross-entropy of the CRF against
        a teacher's per-token tag distributions ``soft`` (batch, seq, num_tags), mean per sentence.

        The teacher is read as a product of its token marginals (pairs of neighbours taken as
        independent), so the cross-entropy is ``log Z - E_soft[score]``: one normaliser serves both
        terms, and with one-hot ``soft`` it is the negative log-likelihood itself."""
        emissions = self.emissions(batch)  # (batch, seq, num_tags)
        mask = batch.mask
        # pytorch-crf's own normaliser (time first), as its forward computes it
        log_z: Tensor = self.crf._compute_normalizer(
            emissions.transpose(0, 1), mask.transpose(0, 1)
        )  # (batch,)
        gold = nn.functional.one_hot(tags, self.sizes.tags).to(emissions.dtype)  # (batch, seq, tags)
        expected = (1.0 - weight) * self._expected_score(emissions, gold, batch)
        expected = expected + weight * self._expected_score(emissions, soft.to(emissions.dtype), batch)
        return (log_z - expected).mean()

    def _expected_score(self, emissions: Tensor, q: Tensor, batch: Batch) -> Tensor:
        """The CRF score of each sentence (batch,) averaged over paths drawn from per-token
        distributions ``q`` (batch, seq, num_tags), each token independently."""
        crf = self.crf
        q = q * batch.mask.unsqueeze(2)  # (batch, seq, num_tags): nothing past each end
        unary = (q * emissions).sum(dim=(1, 2))  # (batch,)
        pairs = torch.einsum("btj,jk,btk->b", q[:, :-1], crf.transitions, q[:, 1:])  # (batch,)
        last = (batch.lengths - 1).to(q.device)  # (batch,)
        ends = q[torch.arange(len(q), device=q.device), last] @ crf.end_transitions  # (batch,)
        score: Tensor = unary + pairs + q[:, 0] @ crf.start_transitions + ends
        return score

    def transitions(self) -> CrfScores:
        """The CRF's start, transition and end scores as float32 numpy arrays for :mod:`ner.model.crf`,
        read-only, nothing masked (the tagger forbids what its scheme forbids); remembered while the
        scores stay the same."""
        crf = self.crf
        key = values_key(crf.start_transitions, crf.transitions, crf.end_transitions)
        if self._transitions is None or self._transitions[0] != key:
            parts = (crf.start_transitions, crf.transitions, crf.end_transitions)
            start, transitions, end = (p.detach().float().cpu().numpy().copy() for p in parts)
            for array in (start, transitions, end):
                array.flags.writeable = False
            self._transitions = (key, CrfScores(start, transitions, end))
        return self._transitions[1]
