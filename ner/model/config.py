"""The model's hyper-parameters, and apart from them the sizes that come from the data (plain data:
read by the PyTorch model and the numpy backend alike)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal


@dataclass(frozen=True)
class Sizes:
    """How many words, characters and tags the model's vocabularies hold (the data decides them)."""

    words: int
    chars: int
    tags: int
    lists: int = 0  # name lists (gazetteers) whose marks the model reads: 4 features each

    @property
    def marks(self) -> int:
        """The width of the name lists' feature (:mod:`ner.text.gazetteer`): four marks a list."""
        return 4 * self.lists


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters that fix the model's shape, apart from the vocabularies' :class:`Sizes`."""

    word_dim: int = 50
    char_dim: int = 30
    char_filters: int = 50
    char_window: int = 3
    casing_dim: int = 8
    hidden: int = 128
    layers: int = 1
    cell: Literal["lstm", "gru"] = "lstm"
    dropout: float = 0.5
    # Document context: the BiLSTM reads consecutive sentences of a document together, in windows of up
    # to this many tokens (a longer sentence alone). 0: each sentence alone, as checkpoints before it.
    context: int = 0
    # Document memory: each capitalised token also reads the mean BiLSTM state of the other capitalised
    # occurrences of its word in the same block of up to this many tokens of its document (the BiLSTM
    # still reads each sentence alone). 0: off, as in checkpoints before it (see
    # ner.model.checkpoint.OLDER_FORMATS_LACK). On in the bundled recipe.
    memory: int = 512
    # How each token's word vector and character-CNN features meet: side by side ("concat"), or mixed
    # by a gate that weighs the two per token and dimension (Rei et al. 2016, "gate"; the characters
    # are first mapped to the word vector's size). Measured: docs/training.md.
    combine: Literal["concat", "gate"] = "concat"

    def __post_init__(self) -> None:
        sizes = ("word_dim", "char_dim", "char_filters", "char_window", "hidden", "layers")
        for name in sizes:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer (got {getattr(self, name)!r})")
        if self.char_window % 2 == 0:
            raise ValueError(f"char_window must be odd (got {self.char_window}): an even one shifts the word")
        if not isinstance(self.casing_dim, int) or self.casing_dim < 0:
            raise ValueError(f"casing_dim must be 0 (none) or a positive integer (got {self.casing_dim!r})")
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru' (got {self.cell!r})")
        if not isinstance(self.context, int) or self.context < 0:
            raise ValueError(f"context must be 0 (none) or a positive integer (got {self.context!r})")
        if not isinstance(self.memory, int) or self.memory < 0:
            raise ValueError(f"memory must be 0 (none) or a positive integer (got {self.memory!r})")
        if self.memory and self.context:
            raise ValueError(
                f"memory ({self.memory}) and context ({self.context}) cannot both be on: "
                "set memory = 0 to read documents in context windows"
            )
        if self.combine not in ("concat", "gate"):
            raise ValueError(f"combine must be 'concat' or 'gate' (got {self.combine!r})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout!r})")

    @property
    def input_dim(self) -> int:
        """The size of each token's features as the BiLSTM reads them."""
        spelled = self.char_filters if self.combine == "concat" else 0
        return self.word_dim + spelled + self.casing_dim

    def for_checkpoint(self, sizes: Sizes) -> dict[str, Any]:
        """The checkpoint's ``model_config`` table: these settings and the sizes (as ``num_*``)."""
        counts = {"num_words": sizes.words, "num_chars": sizes.chars, "num_tags": sizes.tags}
        if sizes.lists:  # absent without lists: such checkpoints read as before in older versions
            counts["num_lists"] = sizes.lists
        return {**counts, **asdict(self)}

    @classmethod
    def of_checkpoint(cls, table: dict[str, Any]) -> tuple[ModelConfig, Sizes]:
        """The settings and sizes of a checkpoint's ``model_config`` table.

        Raises:
            TypeError, ValueError: a missing, unknown or invalid entry.
        """
        rest = dict(table)
        try:
            sizes = Sizes(
                int(rest.pop("num_words")),
                int(rest.pop("num_chars")),
                int(rest.pop("num_tags")),
                int(rest.pop("num_lists", 0)),
            )
        except KeyError as exc:
            raise TypeError(f"missing size {exc}") from None
        if min(sizes.words, sizes.chars, sizes.tags) < 1 or sizes.lists < 0:
            raise ValueError(f"sizes must be positive (got {sizes})")
        return cls(**rest), sizes


SETTINGS = frozenset(f.name for f in fields(ModelConfig))  # the names a [model] table may use
