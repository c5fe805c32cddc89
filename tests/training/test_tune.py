"""``ner tune`` on the tiny fixture: studies that finish, resume, share workers, prune and fail."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ner.cli import main
from ner.runtime import InputError

optuna = pytest.importorskip("optuna", reason="ner tune is an extra: pip install 'ner-service[tune]'")

SPACE = """
[model.hidden]
choices = [8, 16]

[train.lr]
low = 0.005
high = 0.05
log = true
"""
BASE = """
[model]
char_dim = 8
char_filters = 16
casing_dim = 4

[train]
batch_size = 4
unk_replace = 0.0
"""


def _args(data_dir: Path, tmp_path: Path, out: Path, *extra: str) -> list[str]:
    (tmp_path / "space.toml").write_text(SPACE)
    (tmp_path / "base.toml").write_text(BASE)
    return [
        "tune", "--train", str(data_dir / "train.txt"), "--dev", str(data_dir / "train.txt"),
        "--embeddings", str(data_dir / "glove.txt"), "--space", str(tmp_path / "space.toml"),
        "--config", str(tmp_path / "base.toml"), "--epochs-per-trial", "2", "--seed", "1",
        "--out", str(out), "--device", "cpu", *extra,
    ]  # fmt: skip


def _study(out: Path, name: str = "ner") -> object:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def test_a_study_writes_config_csv_and_plots_and_its_config_trains(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "tune"
    assert main(_args(data_dir, tmp_path, out, "--trials", "3")) == 0
    for name in ("best.toml", "trials.csv", "history.png", "importances.png", "best_curve.png"):
        assert (out / name).stat().st_size > 0, name
    rows = (out / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("number,state,dev_f1,epochs,minutes") and len(rows) == 4
    board = capsys.readouterr().out
    assert board.splitlines()[0].startswith("number | state | dev_f1") and "COMPLETE" in board
    best = out / "best.toml"
    model = tmp_path / "best.pt"
    train = [
        "train", "--config", str(best), "--train", str(data_dir / "train.txt"),
        "--dev", str(data_dir / "train.txt"), "--out", str(model), "--epochs", "2", "--device", "cpu",
    ]  # fmt: skip
    assert main(train) == 0 and model.exists()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["tune", "--out", str(out), "--report"]) == 0  # without the study's --config
    assert "COMPLETE" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # --report only reads
    assert main(["tune", "--out", str(tmp_path / "nothing"), "--report"]) == 2
    assert not (tmp_path / "nothing").exists()


def test_a_rerun_continues_the_trial_count(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    assert main(_args(data_dir, tmp_path, out, "--trials", "2")) == 0
    assert main(_args(data_dir, tmp_path, out, "--trials", "3")) == 0
    assert sorted(t.number for t in _study(out).trials) == [0, 1, 2]


def test_two_workers_share_one_sqlite_study(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    out.mkdir()
    args = _args(data_dir, tmp_path, out, "--trials", "4", "--pruner", "none")
    args.remove("--seed")
    args.remove("1")  # two workers with one seed would propose the same settings
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen([sys.executable, "-m", "ner.cli", *args], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()[-2000:]
    trials = _study(out).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and 4 <= len(numbers) <= 5  # at most one started at the end
    assert all(t.state.name == "COMPLETE" for t in trials)


def test_pruned_and_failed_trials_are_recorded_and_the_study_goes_on(
    data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import ner.training.train
    from ner.training.tune import Search, leaderboard, make_study, read_space, run_search

    (tmp_path / "space.toml").write_text(SPACE)
    search = Search(
        data_dir / "train.txt", data_dir / "train.txt", str(data_dir / "glove.txt"),
        {"char_dim": 8, "char_filters": 16, "casing_dim": 4}, {"batch_size": 4}, 3, 0.0,
    )  # fmt: skip
    never_enough = optuna.pruners.ThresholdPruner(lower=101.0)  # no dev F1 reaches it: all pruned
    pruned = make_study(f"sqlite:///{tmp_path / 'a.db'}", "p", "random", never_enough, 0)
    run_search(pruned, search, read_space(tmp_path / "space.toml"), 2, None)
    rows = leaderboard(pruned)
    assert [(r["state"], r["epochs"]) for r in rows] == [("PRUNED", 1), ("PRUNED", 1)]

    real_train = ner.training.train.train
    calls = []

    def crashes_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory, say")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(ner.training.train, "train", crashes_once)
    study = make_study(f"sqlite:///{tmp_path / 'b.db'}", "f", "random", "none", 0)
    run_search(study, search, read_space(tmp_path / "space.toml"), 3, None)
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "COMPLETE", "FAIL"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("[model.hiddn]\nchoices = [8]\n", "model.hiddn: unknown setting"),
        ("[train.lr]\nlow = 0.0\nhigh = 1.0\nlog = true\n", "train.lr: a log range must start above zero"),
        ("[train.lr]\nlow = 0.1\n", "train.lr: a range needs numbers low and high"),
        ("[model.dropout]\nlow = 0.6\nhigh = 0.2\n", "model.dropout: low 0.6 is above high 0.2"),
        ("[model.cell]\nchoices = []\n", "model.cell: choices must be a non-empty list"),
        ("[optimizer.lr]\nlow = 1\nhigh = 2\n", "unknown table [optimizer]"),
    ],
)
def test_a_bad_space_names_the_key(tmp_path: Path, space: str, message: str, capsys) -> None:
    from ner.training.tune import read_space

    path = tmp_path / "space.toml"
    path.write_text(space)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_space(path)
    assert (
        main(["tune", "--train", "x", "--dev", "x", "--space", str(path), "--out", str(tmp_path / "o")]) == 2
    )
    assert message in capsys.readouterr().err


def test_the_shipped_space_is_valid() -> None:
    from ner.training.tune import default_space, read_space

    keys = {p.key for p in read_space(default_space())}
    assert {"model.hidden", "model.dropout", "train.lr", "train.batch_size"} <= keys


def test_an_interrupted_study_stops_and_a_rerun_finishes_it(data_dir: Path, tmp_path: Path) -> None:
    import signal

    out = tmp_path / "tune"
    args = _args(data_dir, tmp_path, out, "--trials", "4", "--pruner", "none", "--epochs-per-trial", "30")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ner.cli", *args], env=env, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for line in proc.stderr:  # Optuna logs each finished trial: interrupt the one after the first
        if b"finished with value" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    before = _study(out).trials
    # stopped between trials, or in one (then recorded as failed); none left running
    assert len(before) < 4 and {t.state.name for t in before} <= {"COMPLETE", "FAIL"}
    assert main(args) == 0  # the same command carries on
    after = _study(out).trials
    assert [t.number for t in after] == list(range(4))
    assert [t.state.name for t in after[len(before) :]] == ["COMPLETE"] * (4 - len(before))


def test_a_new_study_starts_from_the_bundled_recipe(tmp_path: Path) -> None:
    from ner.training.tune import Search, default_space, read_space, starting_values

    search = Search(tmp_path, tmp_path, "glove-6b-50d", {}, {}, 10, 0.0)
    start = starting_values(search, read_space(default_space()))
    assert start["model.hidden"] == 128 and start["train.lr"] == 0.002 and start["train.optimizer"] == "nadam"
    narrow = tmp_path / "space.toml"
    narrow.write_text("[model.hidden]\nchoices = [8, 16]\n")
    assert starting_values(search, read_space(narrow)) == {}  # 128 is not among the choices: no baseline
