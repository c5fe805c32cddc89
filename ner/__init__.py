"""Named-entity recognition with a BiLSTM-CNN-CRF.

    from ner import Tagger
    tagger = Tagger.load()                       # the bundled CoNLL-2003 model (backend="numpy": no torch)
    tagger.tag_texts(["U.N. official Ekeus heads for Baghdad."])   # entities, character offsets
    tagger.tag([["EU", "rejects", "German", "call"]])               # tags per token

The names below are imported on first use: ``import ner`` alone loads neither PyTorch nor numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Entity", "Prediction", "Tagger", "TextEntity", "__version__"]

if TYPE_CHECKING:
    from ner.inference.tagger import Tagger
    from ner.text.results import Entity, Prediction, TextEntity

_HOMES = {
    "Tagger": "ner.inference.tagger",
    "Entity": "ner.text.results",
    "Prediction": "ner.text.results",
    "TextEntity": "ner.text.results",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'ner' has no attribute {name!r}")
