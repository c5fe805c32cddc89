"""Checkpoints that would load but poison answers are refused, in one line, by both loaders."""

import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ner.cli import main
from ner.model.checkpoint import load_arrays, load_checkpoint, save_atomic
from ner.runtime import InputError

LOADERS = [load_checkpoint, load_arrays]


def _edited(model_path: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    obj = load_checkpoint(model_path)
    edit(obj)
    out = tmp_path / "edited.pt"
    save_atomic(obj, out)
    return out


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj.setdefault(key, {})
        obj[last] = value

    return edit


def _poison(name: str, row: int) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        weight = obj["state_dict"][name].clone()
        weight[row] = math.nan
        obj["state_dict"][name] = weight

    return edit


@pytest.mark.parametrize("load", LOADERS)
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("metadata.calibration.temperature", 0.0), r"temperature must lie in \[0.05, 20\] \(got 0\)"),
        (_set("metadata.calibration.temperature", math.nan), "temperature must lie in"),
        (_set("metadata.calibration.temperature", 1e-300), r"temperature must lie in .*got 1e-300"),
        (_set("metadata.calibration.temperature", 1e6), "temperature must lie in"),
        (_set("metadata.calibration.temperature", "hot"), "temperature must be a number"),
        (_poison("word_embed.weight_scale", 0), r"state_dict\['word_embed.weight_scale'\] holds NaN"),
        (_poison("proj.weight", 1), r"state_dict\['proj.weight'\] holds NaN"),
        (_set("model_config.cell", "rnn"), "model_config: cell must be 'lstm' or 'gru'"),
        (_set("model_config.hidden", "big"), "model_config: hidden must be a positive integer"),
        (_set("scheme.model", "bilou"), "scheme must give 'model' and 'data'"),
        (_set("metadata", "a string"), "metadata is not a table"),
        (_set("vocab.words", [1, 2]), "vocab must hold lists of strings"),
    ],
)
def test_values_that_reach_arithmetic_are_checked(
    model_path: Path, tmp_path: Path, load: Callable[[Path], Any], edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(InputError, match=message):
        load(_edited(model_path, tmp_path, edit))


@pytest.mark.parametrize("load", LOADERS)
def test_a_flipped_byte_inside_the_archive_is_found(model_path: Path, tmp_path: Path, load) -> None:
    damaged = tmp_path / "damaged.pt"
    data = bytearray(model_path.read_bytes())
    with zipfile.ZipFile(model_path) as archive:
        member = max(archive.infolist(), key=lambda i: i.file_size)  # the largest tensor
    header = member.header_offset
    start = header + 30 + int.from_bytes(data[header + 26 : header + 28], "little")
    start += int.from_bytes(data[header + 28 : header + 30], "little")
    data[start + member.file_size // 2] ^= 0x40
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"CRC") as caught:
        load(damaged)
    assert "weights_only" not in str(caught.value)


def test_the_cli_refuses_a_poisoned_checkpoint_in_one_line_with_exit_2(
    model_path: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _edited(model_path, tmp_path, _poison("proj.weight", 0))
    assert main(["evaluate", "--model", str(bad), "--data", str(data_dir / "train.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds NaN" in err and str(bad) in err


def test_the_checked_file_still_loads(model_path: Path) -> None:
    obj = load_checkpoint(model_path)
    assert torch.isfinite(obj["state_dict"]["proj.weight"]).all()
    assert load_arrays(model_path)["vocab"] == obj["vocab"]


def test_int8_word_rows_are_within_half_a_step_of_the_original() -> None:
    import numpy as np

    from ner.model.checkpoint import WORD_SCALE, quantize_rows, word_vectors

    weight = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    weight[0] = 0.0  # padding
    rows, scale = quantize_rows(weight)
    assert rows.dtype == np.int8 and scale.shape == (50,)
    back = word_vectors({"word_embed.weight": rows, WORD_SCALE: scale})
    assert np.all(np.abs(back - weight) <= scale[:, None] / 2 + 1e-7)
    assert np.array_equal(back[0], weight[0])
    assert np.array_equal(
        word_vectors({"word_embed.weight": weight.astype(np.float16)}), weight.astype(np.float16)
    )


def _crafted(path: Path, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0) -> Path:
    """A torch.save-shaped archive whose one tensor has the given shape, strides and offset over a
    storage of 4 floats: what a hostile file can claim."""
    import io
    import pickle
    from collections import OrderedDict

    class Storage:
        pass

    class Tensor:
        def __reduce__(self) -> tuple[object, ...]:
            args = (Storage(), offset, size, stride, False, OrderedDict())
            return torch._utils._rebuild_tensor_v2, args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return ("storage", torch.FloatStorage, "0", "cpu", 4) if isinstance(obj, Storage) else None

    data = io.BytesIO()
    Pickler(data, protocol=2).dump({"state_dict": {"w": Tensor()}})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data.getvalue())
        archive.writestr("archive/data/0", b"\x00" * 16)
        archive.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize(
    ("size", "stride", "offset"),
    [
        ((4,), (1_000_000_000,), 0),
        ((2, 2), (2, 1), 1),
        ((4,), (1,), 1 << 40),
        ((4,), (-1,), 3),
        ((4,), (1,), -2),
    ],
)
def test_tensors_that_reach_outside_their_storage_are_refused_by_both_loaders(
    tmp_path: Path, size: tuple[int, ...], stride: tuple[int, ...], offset: int
) -> None:
    path = _crafted(tmp_path / "crafted.pt", size, stride, offset)
    for load in LOADERS:
        with pytest.raises(InputError, match="not a readable checkpoint") as refused:
            load(path)
        assert "\n" not in str(refused.value) and "\x1b" not in str(refused.value)
    fine = _crafted(tmp_path / "fine.pt", (2, 2), (2, 1))  # in bounds: read, then found incomplete
    for load in LOADERS:
        with pytest.raises(InputError, match="not a model checkpoint: missing format_version"):
            load(fine)


def test_loader_errors_are_one_plain_line_without_unsafe_advice() -> None:
    from ner.model.checkpoint import _first_line

    noisy = RuntimeError(
        "\x1b[1m\x1b[31mWeights only load failed.\x1b[0m\nPlease file an issue.\n"
        "Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can "
        "result in arbitrary code execution. Do it only if you trust the source."
    )
    assert _first_line(noisy) == "RuntimeError: Weights only load failed."
    assert _first_line(RuntimeError("\n\n")) == "RuntimeError"


def test_a_failed_torch_write_is_an_oserror_and_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def failing(obj: object, f: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0\nmore")

    monkeypatch.setattr(torch, "save", failing)
    with pytest.raises(OSError, match="cannot write the checkpoint") as failed:
        save_atomic({"a": 1}, tmp_path / "m.pt")
    assert "\n" not in str(failed.value)
    assert list(tmp_path.iterdir()) == []
