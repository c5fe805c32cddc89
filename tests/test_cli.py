"""Each command end to end on tiny files, and every kind of bad input: one line, exit code 2."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ner.cli import main
from tests.conftest import SENTENCES, write_conll

TINY_CONFIG = """
[model]
char_dim = 8
char_filters = 16
casing_dim = 4
hidden = 32
dropout = 0.1

[train]
epochs = 3
batch_size = 4
optimizer = "adam"
lr = 0.02
unk_replace = 0.0
"""


def _train_args(data_dir: Path, tmp_path: Path, out: Path, *extra: str) -> list[str]:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG)
    return [
        "train", "--config", str(config), "--train", str(data_dir / "train.txt"),
        "--dev", str(data_dir / "train.txt"), "--embeddings", str(data_dir / "glove.txt"),
        "--out", str(out), "--device", "cpu", *extra,
    ]  # fmt: skip


def test_train_writes_checkpoint_metrics_and_curve(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.pt"
    assert main(_train_args(data_dir, tmp_path, out, "--seed", "5")) == 0
    assert out.exists() and out.with_name("m.metrics.json").exists() and out.with_name("m.curve.png").exists()
    assert "best dev F1" in capsys.readouterr().out
    # refuses to overwrite without --force
    assert main(_train_args(data_dir, tmp_path, out)) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Paris NNP B-LOC\nis O\n", "bad.txt:2: expected 3 columns, found 2"),
        (b"Paris NNP B-LOC\nnice JJ I-PER\n", "bad.txt:2: tag 'I-PER' breaks the IOB2 scheme"),
        (b"Paris NNP LOC\n", "bad.txt:1: unknown tag 'LOC'"),
        (b"", "bad.txt: no sentences found"),
        (b"Caf\xe9 NNP B-LOC\n", "bad.txt:1: not UTF-8"),
    ],
)
def test_bad_training_data_exits_2_and_writes_nothing(
    data_dir: Path, tmp_path: Path, capsys, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "m.pt"
    args = _train_args(data_dir, tmp_path, out)
    args[args.index("--train") + 1] = str(bad)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ner: error: ") and message in err and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("char_window = 4", "char_window must be odd"),
        ("hidden = 0", "hidden must be a positive integer"),
        ("dropout = 1.5", "dropout must be in [0, 1)"),
        ('cell = "transformer"', "cell must be 'lstm' or 'gru'"),
    ],
)
def test_bad_model_table_exits_2_before_reading_data(
    data_dir: Path, tmp_path: Path, capsys, line: str, message: str
) -> None:
    out = tmp_path / "m.pt"
    args = _train_args(data_dir, tmp_path, out)
    config = Path(args[args.index("--config") + 1])
    key = line.split(" = ")[0]
    kept = [old for old in TINY_CONFIG.splitlines() if not old.startswith(f"{key} = ")]
    config.write_text("\n".join(kept).replace("[model]", f"[model]\n{line}"))
    args[args.index("--train") + 1] = str(tmp_path / "never-read.txt")  # the config is checked first
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "tiny.toml: bad [model] table: " in err and message in err and "\n" not in err
    assert not out.exists()


def test_missing_files_and_embeddings_exit_2(
    data_dir: Path, tmp_path: Path, capsys, model_path: Path
) -> None:
    out = tmp_path / "m.pt"
    out.write_bytes(b"previous model")
    args = _train_args(data_dir, tmp_path, out, "--force")
    args[args.index("--embeddings") + 1] = str(tmp_path / "no-vectors.txt")
    assert main(args) == 2
    assert "no-vectors.txt: embeddings file not found" in capsys.readouterr().err
    assert out.read_bytes() == b"previous model"  # nothing overwritten
    args[args.index("--train") + 1] = str(tmp_path / "missing.txt")
    assert main(args) == 2
    assert "missing.txt: file not found" in capsys.readouterr().err
    assert (
        main(["evaluate", "--model", str(tmp_path / "none.pt"), "--data", str(data_dir / "train.txt")]) == 2
    )
    assert "none.pt: checkpoint not found" in capsys.readouterr().err


def test_evaluate_prints_table_and_json(data_dir: Path, model_path: Path, capsys) -> None:
    assert main(["evaluate", "--model", str(model_path), "--data", str(data_dir / "train.txt")]) == 0
    assert "overall" in capsys.readouterr().out
    assert (
        main(["evaluate", "--model", str(model_path), "--data", str(data_dir / "train.txt"), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["f1"] == 100.0
    assert set(report["per_type"]) == {"PER", "LOC", "ORG", "MISC"}


def test_tag_conll_adds_one_column_in_the_input_scheme(
    data_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    source = write_conll(tmp_path / "in.txt", SENTENCES[:3])
    out = tmp_path / "out.txt"
    assert main(["tag", "--model", str(model_path), "--input", str(source), "--output", str(out)]) == 0
    lines_in = source.read_text().splitlines()
    lines_out = out.read_text().splitlines()
    assert len(lines_in) == len(lines_out)
    for a, b in zip(lines_in, lines_out):
        if not a or a.startswith("-DOCSTART-"):
            assert a == b
        else:
            assert b.startswith(a + " ") and b.split()[-1] == a.split()[-1]  # gold == prediction


def test_tag_text_gives_json_lines_with_offsets(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Alice Walker visited Paris.\nNothing here\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = [
        "tag",
        "--model",
        str(model_path),
        "--input",
        str(source),
        "--output",
        str(out),
        "--format",
        "text",
    ]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["text"], e["label"]) for e in rows[0]["entities"]] == [
        ("Alice Walker", "PER"),
        ("Paris", "LOC"),
    ]
    for row in rows:
        for e in row["entities"]:
            assert row["text"][e["start"] : e["end"]] == e["text"]


def test_sigterm_leaves_best_checkpoint_and_resume_finishes(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    args = _train_args(data_dir, tmp_path, out)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG.replace("epochs = 3", "epochs = 400"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ner.cli", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not out.with_name("m.resume.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "carry on with --resume" in err
    assert out.exists()
    config.write_text(TINY_CONFIG.replace("epochs = 3", "epochs = 6"))
    assert main([*args, "--resume"]) == 0
    assert not out.with_name("m.resume.pt").exists()
