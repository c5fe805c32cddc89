"""Regularisers of training beside the loss: a moving average of the weights (evaluated and saved
rather than the last step's), and dropout with one mask per sentence."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch


class WeightAverage:
    """An exponential moving average of parameters, updated after each optimizer step.

    The decay starts low and rises to ``decay`` ((1 + steps) / (10 + steps) until then), so that the
    first steps' random weights are soon forgotten.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], decay: float) -> None:
        self.params: list[torch.Tensor] = list(params)
        self.decay = decay
        self.steps = 0
        self.shadow = [p.detach().clone() for p in self.params]

    def update(self) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged weights in the parameters for the ``with`` block, the live ones after it."""
        live = [p.detach().clone() for p in self.params]
        # Into the parameters themselves, not ``.data``: that would leave their version counters as
        # they were, and the tagger's tables remembered from the live weights would be read again.
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, live)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = state["steps"]
        with torch.no_grad():
            torch._foreach_copy_(self.shadow, [t.to(s.device) for s, t in zip(self.shadow, state["shadow"])])


class SentenceDropout(torch.nn.Module):
    """Dropout over (batch, seq, features) with one mask per sentence for each feature, shared by all
    its tokens (variational dropout); nothing at tagging time. No parameters: the state dict is the
    same as with ``nn.Dropout``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p)  # (batch, 1, features)
        return x * keep / (1 - self.p)
