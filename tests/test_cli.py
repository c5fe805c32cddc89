"""Each command end to end on tiny files, and every kind of bad input: one line, exit code 2."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

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
scheme = "iobes"  # as the session's tiny models (tests/conftest.py), which serve as teachers here
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


def test_bad_train_table_exits_2_before_reading_data(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.pt"
    args = _train_args(data_dir, tmp_path, out)
    config = Path(args[args.index("--config") + 1])
    config.write_text(TINY_CONFIG.replace("[train]", "[train]\nmemory_dropout = 2"))
    args[args.index("--train") + 1] = str(tmp_path / "never-read.txt")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "tiny.toml: bad [train] table: memory_dropout must be a probability in [0, 1] (got 2)" in err
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


def test_evaluate_prints_table_and_json(data_dir: Path, model_path: Path, capsys, tmp_path: Path) -> None:
    assert main(["evaluate", "--model", str(model_path), "--data", str(data_dir / "train.txt")]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "(seen in training:" in out and "its training data" in out
    assert (
        main(["evaluate", "--model", str(model_path), "--data", str(data_dir / "train.txt"), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["f1"] == 100.0 and report["seen_in_training"] is True
    assert set(report["per_type"]) == {"PER", "LOC", "ORG", "MISC"}
    unseen = write_conll(tmp_path / "unseen.txt", SENTENCES[:3])
    assert main(["evaluate", "--model", str(model_path), "--data", str(unseen), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seen_in_training"] is False


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


def _tag(model_path: Path, *args: str) -> list[str]:
    return ["tag", "--model", str(model_path), *args]


CORPUS = [
    {"id": i, "text": text, "lang": "en"}
    for i, text in enumerate(
        ["Alice Walker visited Paris.", "", "Dave Miller of Initech spoke. Eve watched the Olympic Games."]
        * 7
    )
]


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_tag_jsonl_equals_post_tag_in_order_at_any_worker_count(
    model_path: Path, tagger, tmp_path: Path, backend: str
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    source = _write_jsonl(tmp_path / "in.jsonl", CORPUS)
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        args = ["--input", str(source), "--output", str(out), "--workers", workers, "--backend", backend]
        assert main(_tag(model_path, *args)) == 0
        outputs.append([json.loads(line) for line in out.read_text().splitlines()])
        assert not (tmp_path / f"out{workers}.jsonl.partial").exists()
    assert outputs[0] == outputs[1]
    rows = outputs[0]
    assert [{k: v for k, v in r.items() if k != "entities"} for r in rows] == CORPUS
    with TestClient(create_app(Settings(), tagger)) as client:
        served = client.post("/tag", json={"texts": [r["text"] for r in CORPUS[:3]]}).json()["results"]
    for row, result in zip(rows, served):
        assert [(e["text"], e["label"], e["start"], e["end"]) for e in row["entities"]] == [
            (e["text"], e["label"], e["start"], e["end"]) for e in result["entities"]
        ]
        assert [e["score"] for e in row["entities"]] == pytest.approx(
            [e["score"] for e in result["entities"]],
            abs=2e-4,  # rounded to 4 places on both sides
        )


def test_tag_gzip_stdin_stdout_and_text_lines(model_path: Path, tmp_path: Path) -> None:
    import gzip

    texts = [r["text"] for r in CORPUS]
    plain = tmp_path / "in.txt"
    plain.write_text("\n".join(texts) + "\n", encoding="utf-8")
    packed = tmp_path / "in.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    out_gz = tmp_path / "out.jsonl.gz"
    assert main(_tag(model_path, "--input", str(packed), "--output", str(out_gz), "--workers", "1")) == 0
    from_gzip = gzip.decompress(out_gz.read_bytes()).decode().splitlines()
    assert [json.loads(line)["text"] for line in from_gzip] == texts
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    piped = subprocess.run(
        [sys.executable, "-m", "ner.cli", *_tag(model_path, "--input", "-", "--output", "-")],
        input=plain.read_bytes(), capture_output=True, env=env, check=True,
    )  # fmt: skip
    assert piped.stdout.decode().splitlines() == from_gzip


def test_tag_tab_separated_conll_keeps_tabs(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.conll"
    source.write_text("Alice\tB-PER\nWalker\tI-PER\n\nParis\tB-LOC\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    assert main(_tag(model_path, "--input", str(source), "--output", str(out))) == 0
    assert out.read_text().splitlines() == [
        "Alice\tB-PER\tB-PER",
        "Walker\tI-PER\tI-PER",
        "",
        "Paris\tB-LOC\tB-LOC",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "Alice"}\nnot json\n', "in.jsonl:2: not JSON"),
        (b'{"text": "Alice"}\n{"body": "x"}\n', "in.jsonl:2: field 'text' is missing"),
        (b'{"text": "Alice"}\n{"text": "caf\xe9"}\n', "in.jsonl:2: not UTF-8"),
    ],
)
def test_tag_bad_record_names_the_line_or_is_skipped(
    model_path: Path, tmp_path: Path, capsys, caplog, content: bytes, message: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    assert main(_tag(model_path, "--input", str(source), "--output", str(out), "--workers", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "out.jsonl.partial" in err and "\n" not in err
    assert not out.exists() and len((tmp_path / "out.jsonl.partial").read_text().splitlines()) == 1
    args = _tag(model_path, "--input", str(source), "--output", str(out), "--skip-bad", "--force")
    assert main(args) == 0
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == ["Alice"]
    assert "skipped 1 bad records" in caplog.text and message.replace("in.jsonl:2: ", "") in caplog.text


def test_tag_refuses_outputs_that_would_destroy_something(model_path: Path, tmp_path: Path, capsys) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", CORPUS[:2])
    before = source.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    cases = [
        (source, "is the input file"),
        (link, "is not a regular file"),
        (fifo, "is not a regular file"),
        (tmp_path / "no" / "such" / "out.jsonl", "the output folder does not exist"),
    ]
    for output, message in cases:
        assert main(_tag(model_path, "--input", str(source), "--output", str(output), "--force")) == 2
        assert message in capsys.readouterr().err
    existing = tmp_path / "old.jsonl"
    existing.write_text("keep me\n")
    assert main(_tag(model_path, "--input", str(source), "--output", str(existing))) == 2
    assert "already exists (pass --force" in capsys.readouterr().err
    assert existing.read_text() == "keep me\n" and source.read_bytes() == before
    assert not link.exists() and not (tmp_path / "elsewhere.jsonl").exists()


def test_tag_empty_input_is_an_empty_output_for_every_format(model_path: Path, tmp_path: Path) -> None:
    for name in ("empty.jsonl", "empty.txt", "empty.conll"):
        source = tmp_path / name
        source.write_bytes(b"")
        out = tmp_path / f"{name}.out"
        args = ["--input", str(source), "--output", str(out), "--output-format", "jsonl"]
        assert main(_tag(model_path, *args)) == 0
        assert out.read_bytes() == b""


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_tag_killed_then_resumed_gives_the_uninterrupted_output(
    model_path: Path, tmp_path: Path, suffix: str
) -> None:
    import gzip

    records = [{"id": i, "text": f"Carol likes French cheese {i} . Bob Stone flew ."} for i in range(4000)]
    source = _write_jsonl(tmp_path / "in.jsonl", records)
    whole = tmp_path / "whole.jsonl"
    assert main(_tag(model_path, "--input", str(source), "--output", str(whole), "--workers", "1")) == 0
    out = tmp_path / f"out.jsonl{suffix}"
    partial = tmp_path / f"out.jsonl{suffix}.partial"
    args = _tag(model_path, "--input", str(source), "--output", str(out), "--workers", "2")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ner.cli", *args], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (not partial.exists() or partial.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.kill()  # no chance to finish a write: the partial file may end inside a line
    proc.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "orphaned workers"
    with open(partial, "ab") as f:
        f.write(b"\x1f\x8b half a member" if suffix else b'{"id": 12, "te')
    assert not out.exists()
    assert main([*args, "--resume"]) == 0
    text = gzip.decompress(out.read_bytes()) if suffix else out.read_bytes()
    assert text == whole.read_bytes()
    assert not partial.exists()


def test_tag_stopped_by_sigterm_keeps_whole_lines(model_path: Path, tmp_path: Path) -> None:
    records = [{"text": f"Frank flew from New York {i} ."} for i in range(6000)]
    source = _write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    args = _tag(model_path, "--input", str(source), "--output", str(out), "--workers", "2")
    proc = subprocess.Popen([sys.executable, "-m", "ner.cli", *args], stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 60
    while (not partial.exists() or partial.stat().st_size == 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "carry on with --resume" in err
    data = partial.read_bytes()
    assert data.endswith(b"\n") and all(
        json.loads(line)["entities"] is not None for line in data.splitlines()
    )


def test_version_and_help_with_an_example_and_every_flag_explained(capsys) -> None:
    from ner import __version__
    from ner.cli import _parser

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"ner-service {__version__}"
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    for name, command in sub.choices.items():
        assert command.epilog and command.epilog.startswith("example:\n  ner " + name), name
        for action in command._actions:
            assert action.help, f"ner {name} {action.option_strings} has no help"
    assert "``" not in parser.format_help()  # no raw markup in the top help


def test_evaluate_warns_or_fails_when_label_sets_differ(
    model_path: Path, tmp_path: Path, capsys, caplog
) -> None:
    data = write_conll(
        tmp_path / "other.txt",
        [
            [("Alice", "B-person"), ("visited", "O"), ("Paris", "B-location")],
            [("Acme", "B-ORG"), ("won", "O")],
        ],
    )
    args = ["evaluate", "--model", str(model_path), "--data", str(data)]
    assert main(args) == 0
    assert "share only ORG" in caplog.text and "the model lacks location, person" in caplog.text
    assert "the data lacks LOC, MISC, PER" in caplog.text
    table = capsys.readouterr().out.splitlines()
    assert len({len(line) for line in table}) == 1  # aligned, "location" and "overall" included
    assert main([*args, "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert "other.txt: the model and the data share only ORG" in err and "\n" not in err


def test_train_stopped_by_max_minutes_resumes(data_dir: Path, tmp_path: Path, capsys, caplog) -> None:
    caplog.set_level("INFO", logger="ner")
    out = tmp_path / "m.pt"
    args = _train_args(data_dir, tmp_path, out)
    assert main([*args, "--max-minutes", "0.00001"]) == 0  # stops after the first epoch
    assert "carry on with --resume" in capsys.readouterr().out
    assert out.with_name("m.resume.pt").exists()
    assert (
        "[model] word_dim=8 char_dim=8" in caplog.text
        and "tag scheme: the data's iob2, trained as iobes" in caplog.text
    )
    assert main([*args, "--resume"]) == 0
    history = json.loads(out.with_name("m.metrics.json").read_text())
    assert len(history["epochs"]) == 3 and not out.with_name("m.resume.pt").exists()


def test_a_file_that_is_not_a_checkpoint_is_one_clean_line(tmp_path: Path, capsys) -> None:
    import torch

    foreign = tmp_path / "foreign.pt"
    torch.save({"x": Path("not plain data")}, foreign)
    for bad in (foreign, tmp_path / "notes.txt"):
        bad.write_text("hello") if bad.suffix == ".txt" else None
        assert main(["evaluate", "--model", str(bad), "--data", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert "not a readable checkpoint" in err and "\n" not in err and "weights_only" not in err, err


def test_serve_checks_the_port_before_loading_the_model(tmp_path: Path, caplog) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        assert main(["serve", "--model", str(tmp_path / "never-loaded.pt"), "--port", str(port)]) == 2
    assert f"127.0.0.1:{port} is not free" in caplog.text and "never-loaded" not in caplog.text
    assert time.monotonic() - started < 5


def test_train_records_the_tokenizer_and_ner_tag_uses_it(data_dir: Path, tmp_path: Path) -> None:
    from ner.corpus.engine import ChunkWork, Job
    from ner.inference.tagger import Tagger
    from ner.model.checkpoint import load_checkpoint

    out = tmp_path / "social.pt"
    assert main([*_train_args(data_dir, tmp_path, out), "--tokenizer", "social"]) == 0
    assert load_checkpoint(out)["metadata"]["tokenizer"] == "social"
    for tagger in (Tagger.load(out, "cpu"), Tagger.load(out, backend="numpy")):
        work = ChunkWork(tagger, Job("text", "jsonl"))
        assert [t.text for t in work.tokenizer.tokenize("@alice flew #Paris")] == ["@alice", "flew", "#Paris"]


def test_a_full_disk_while_training_is_one_line_with_exit_2_and_leaves_no_temporary_files(
    data_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    import errno

    import torch

    def full_disk(obj: object, f: BinaryIO) -> None:
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "runs" / "m.pt"
    out.parent.mkdir()
    stale = out.parent / ".m.resume.pt.k1ll3d.tmp"  # what a process killed mid-write left behind
    stale.write_bytes(b"")
    monkeypatch.setattr(torch, "save", full_disk)
    assert main(_train_args(data_dir, tmp_path, out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == "ner: error: No space left on device", err
    assert sorted(p.name for p in out.parent.iterdir()) == []  # no checkpoint, no .tmp, stale one gone


def test_final_trains_on_train_and_dev_for_the_given_epochs(data_dir: Path, tmp_path: Path, capsys) -> None:
    from ner.model.checkpoint import load_checkpoint

    out = tmp_path / "final.pt"
    assert main([*_train_args(data_dir, tmp_path, out), "--final"]) == 2
    assert "--final needs --epochs" in capsys.readouterr().err
    assert main([*_train_args(data_dir, tmp_path, out), "--final", "--epochs", "2", "--seed", "4"]) == 0
    meta = load_checkpoint(out)["metadata"]
    train_file = str(data_dir / "train.txt")
    assert meta["train"]["path"] == f"{train_file}+{train_file}"  # --dev is train.txt here
    assert meta["epoch"] == 2 and meta["train_config"]["final"] is True
    assert len(json.loads(out.with_name("final.metrics.json").read_text())["epochs"]) == 2


def test_train_with_a_teacher_distils_and_a_missing_one_exits_2(
    data_dir: Path, model_path: Path, tmp_path: Path, capsys
) -> None:
    from ner.model.checkpoint import load_checkpoint

    out = tmp_path / "student.pt"
    missing = tmp_path / "nowhere.pt"
    assert main([*_train_args(data_dir, tmp_path, out), "--teacher", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ner: error: {missing}: no such teacher checkpoint" and not out.exists()
    assert main([*_train_args(data_dir, tmp_path, out), "--teacher", str(model_path)]) == 0
    config = load_checkpoint(out)["metadata"]["train_config"]
    assert list(config["teachers"]) == [str(model_path)] and config["distil"] == 0.5


def test_train_with_name_lists_stores_them_and_bad_lists_exit_2(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    from ner.model.checkpoint import load_checkpoint

    out = tmp_path / "listed.pt"
    missing = tmp_path / "nowhere.tsv"
    assert main([*_train_args(data_dir, tmp_path, out), "--gazetteer", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"ner: error: {missing}: no such gazetteer file"
    bad = tmp_path / "bad.tsv"
    bad.write_text("LOC\tParis\nParis only\n", encoding="utf-8")
    assert main([*_train_args(data_dir, tmp_path, out), "--gazetteer", str(bad)]) == 2
    assert "bad.tsv:2: expected LABEL<TAB>name" in capsys.readouterr().err and not out.exists()
    lists = tmp_path / "lists.tsv"
    lists.write_text("LOC\tParis\nLOC\tNew York\nORG\tAcme Corp\n", encoding="utf-8")
    assert main([*_train_args(data_dir, tmp_path, out), "--gazetteer", str(lists)]) == 0
    checkpoint = load_checkpoint(out)
    assert checkpoint["vocab"]["gazetteer"] == {"LOC": ["new york", "paris"], "ORG": ["acme corp"]}
    assert checkpoint["model_config"]["num_lists"] == 2
    lists.unlink()  # tagging needs nothing but the checkpoint
    source = tmp_path / "in.txt"
    source.write_text("Frank flew from New York to Paris .\n", encoding="utf-8")
    assert (
        main(["tag", "--model", str(out), "--input", str(source), "--output", str(tmp_path / "o.jsonl")]) == 0
    )


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_full_disk_while_tagging_keeps_the_partial_file_and_resume_finishes(
    model_path: Path, tmp_path: Path, capsys, monkeypatch, suffix: str
) -> None:
    import errno

    from ner.corpus.files import Output

    source = _write_jsonl(tmp_path / "in.jsonl", CORPUS)
    out = tmp_path / f"out.jsonl{suffix}"
    args = _tag(model_path, "--input", str(source), "--output", str(out), "--workers", "1")
    write = Output.write

    def full_disk(self: Output, text: str) -> None:
        write(self, text[: len(text) // 2])  # half a chunk reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Output, "write", full_disk)
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == "ner: error: No space left on device"
    assert not out.exists() and (tmp_path / f"{out.name}.partial").exists()
    monkeypatch.setattr(Output, "write", write)
    assert main([*args, "--resume"]) == 0
    assert (
        main(_tag(model_path, "--input", str(source), "--output", str(tmp_path / f"ref.jsonl{suffix}"))) == 0
    )
    assert out.read_bytes() == (tmp_path / f"ref.jsonl{suffix}").read_bytes() or suffix == ".gz"
    if suffix == ".gz":
        import gzip

        assert gzip.decompress(out.read_bytes()) == gzip.decompress((tmp_path / "ref.jsonl.gz").read_bytes())


def test_a_worker_killed_mid_run_ends_ner_tag_with_exit_3_and_resume_finishes(
    model_path: Path, tmp_path: Path
) -> None:
    lines = [json.dumps({"text": f"Alice Walker visited Paris on day {i}."}) for i in range(30_000)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["--input", str(source), "--output", str(out), "--workers", "2", "--backend", "numpy"]
    cmd = [sys.executable, "-m", "ner.cli", "tag", "--model", str(model_path), *args]
    log = tmp_path / "stderr.txt"
    with log.open("w") as sink:  # a file, not a pipe: the test waits for ner tag, not its pipe's readers
        proc = subprocess.Popen(cmd, stderr=sink)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 60
    while (not partial.exists() or partial.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.02)  # the workers are tagging
    workers = _children(proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    proc.wait(timeout=60)  # ended, not hung
    err = log.read_text()
    assert proc.returncode == 3, err
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "orphaned workers"
    assert "a worker process died" in err and "--resume" in err
    assert not out.exists() and partial.exists()
    assert main(_tag(model_path, *args, "--resume")) == 0
    assert len(out.read_text().splitlines()) == 30_000


TYPED = [
    "\u201cAlice Walker\u201d visited Paris \u2014 and Berlin\u2026 \U0001f600",
    "Acme Corp\u2019s new office is in Ber-\nlin, said Bob\u00a0Stone.\r\nCarol likes French cheese.",
    "Dave Miller of Initech spoke to Eve about the Olympic Games, which were held in\n"
    "New York, and Frank flew from Lisbon to Porto with Globex staff on a Monday,\n"
    "as Umbrella Inc shares rose after the Nile floods in August.\n",
]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_text_as_people_type_it_gets_the_same_entities_from_ner_tag_post_tag_and_the_library(
    model_path: Path, tagger, tmp_path: Path, backend: str
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    source = _write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TYPED])
    out = tmp_path / "out.jsonl"
    args = ["--input", str(source), "--output", str(out), "--workers", "1", "--backend", backend]
    assert main(_tag(model_path, *args)) == 0
    rows = [json.loads(line)["entities"] for line in out.read_text().splitlines()]
    with TestClient(create_app(Settings(), tagger)) as client:
        served = [r["entities"] for r in client.post("/tag", json={"texts": TYPED}).json()["results"]]
    library = [[vars(e) for e in ents] for ents in tagger.tag_texts(TYPED)]

    def spans(found: list[list[dict[str, object]]]) -> list[list[tuple[object, ...]]]:
        return [[(e["text"], e["label"], e["start"], e["end"]) for e in ents] for ents in found]

    assert spans(rows) == spans(served) == spans(library)
    assert any(spans(library))  # the tiny model finds something in them


def test_span_data_trains_and_evaluates_from_the_command_line(data_dir: Path, tmp_path: Path, capsys) -> None:
    """The training sentences written as doccano JSON Lines (one text per document): a model trains on
    them and is scored on every entity of them; a span off token edges is an error (exit 2) unless
    --align says otherwise."""
    from ner.text.conll import read_conll
    from ner.text.spans import doccano_records

    records = doccano_records(read_conll(data_dir / "train.txt"))
    spans_file = tmp_path / "train.jsonl"
    spans_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "spans.pt"
    args = _train_args(data_dir, tmp_path, out, "--tokenizer", "whitespace")
    args[args.index("--train") + 1] = args[args.index("--dev") + 1] = str(spans_file)
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(spans_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seen_in_training"] is True and report["overall"]["gold"] == sum(
        len(r["label"]) for r in records
    )
    records[0]["label"][0][1] -= 1  # now ends inside a word
    spans_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["evaluate", "--model", str(out), "--data", str(spans_file)]) == 2
    assert "does not fall on token boundaries" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(out), "--data", str(spans_file), "--align", "expand"]) == 0
