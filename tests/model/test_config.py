"""The model's settings and sizes (:mod:`ner.model.config`)."""

import pytest

from ner.model.config import ModelConfig, Sizes

SIZES = Sizes(words=6, chars=14, tags=5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"char_window": 2}, "char_window must be odd"),
        ({"hidden": 0}, "hidden must be a positive integer"),
        ({"casing_dim": -1}, "casing_dim must be 0"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"memory": -1}, "memory must be 0"),
        ({"context": 64}, "set memory = 0 to read documents in context windows"),
        ({"combine": "attention"}, "combine must be 'concat' or 'gate'"),
    ],
)
def test_model_config_rejects_bad_shapes(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**change)  # type: ignore[arg-type]
