"""Where the bundled default model lives, however the package was installed."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_NAME = "conll03-en.pt"


def default_model_path() -> Path:
    """``NER_MODEL`` if set; else the checkpoint installed inside the package (``ner/_models``);
    else ``models/`` beside the source tree (an editable install or a checkout)."""
    env = os.environ.get("NER_MODEL")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]  # ner/
    for candidate in (package / "_models" / DEFAULT_NAME, package.parent / "models" / DEFAULT_NAME):
        if candidate.is_file():
            return candidate
    return package.parent / "models" / DEFAULT_NAME
