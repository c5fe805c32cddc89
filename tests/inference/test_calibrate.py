import copy
from pathlib import Path

import pytest

from ner.cli import main
from ner.inference.calibrate import GRID, fit_temperature
from ner.inference.tagger import Tagger
from ner.text.conll import read_conll
from tests.conftest import SENTENCES, write_conll


def test_fit_temperature_lowers_gold_nll_and_keeps_tags(tagger: Tagger) -> None:
    words = [[w for w, _ in s] for s in SENTENCES]
    gold = [[t for _, t in s] for s in SENTENCES]
    temperature, nll, nll_one = fit_temperature(tagger, words, gold)
    assert temperature in GRID
    assert nll <= nll_one
    softer = copy.copy(tagger)
    softer.metadata = {**tagger.metadata, "calibration": {"temperature": 3.0}}
    before, after = tagger.predict(words), softer.predict(words)
    assert [p.tags for p in before] == [p.tags for p in after]  # a temperature never moves Viterbi
    for p, q in zip(before, after):
        for e, f in zip(p.entities, q.entities):
            assert f.score <= e.score + 1e-6  # softer: a confident model gets less sure


def held_out(tmp_path: Path) -> Path:
    """The fixture sentences in another order: a file the tiny model did not train on (its bytes differ)."""
    return write_conll(tmp_path / "held-out.txt", SENTENCES[::-1])


def test_cli_calibrate_updates_the_checkpoint(model_path: Path, tmp_path: Path, capsys) -> None:
    copy_path = tmp_path / "m.pt"
    copy_path.write_bytes(model_path.read_bytes())
    args = ["calibrate", "--model", str(copy_path), "--data", str(held_out(tmp_path)), "--half", "all"]
    assert main(args) == 0
    assert "temperature" in capsys.readouterr().out
    calibrated = Tagger.load(copy_path, "cpu")
    assert calibrated.temperature == pytest.approx(calibrated.metadata["calibration"]["temperature"])


def test_cli_calibrate_refuses_the_data_the_model_trained_on(
    model_path: Path, data_dir: Path, tmp_path: Path, capsys
) -> None:
    from ner.model.checkpoint import load_checkpoint, save_atomic
    from ner.text.conll import joined_digest

    path = tmp_path / "m.pt"
    path.write_bytes(model_path.read_bytes())
    assert main(["calibrate", "--model", str(path), "--data", str(data_dir / "train.txt")]) == 2
    assert "trained on this file (its training data)" in capsys.readouterr().err
    final = load_checkpoint(path)  # a --final model saw its dev file too, joined to its training file
    train_sha, dev_sha = final["metadata"]["train"]["sha256"], read_conll(held_out(tmp_path)).sha256
    final["metadata"]["train_config"]["final"] = True
    final["metadata"]["dev"]["sha256"] = dev_sha
    final["metadata"]["train"]["sha256"] = joined_digest(train_sha, dev_sha)
    save_atomic(final, path)
    before = path.read_bytes()
    assert main(["calibrate", "--model", str(path), "--data", str(held_out(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "held-out.txt" in err and "the dev file of a --final model" in err and "--temperature-from" in err
    assert main(["calibrate", "--model", str(path), "--data", str(data_dir / "train.txt")]) == 2
    assert "trained on this file (its training data)" in capsys.readouterr().err
    assert path.read_bytes() == before  # nothing written


def test_cli_calibrate_copies_the_temperature_of_another_checkpoint(
    model_path: Path, tmp_path: Path, capsys
) -> None:
    selected, final = tmp_path / "selected.pt", tmp_path / "final.pt"
    for p in (selected, final):
        p.write_bytes(model_path.read_bytes())
    assert main(["calibrate", "--model", str(final), "--temperature-from", str(selected)]) == 2
    assert "selected.pt: has no temperature to copy" in capsys.readouterr().err
    args = ["calibrate", "--model", str(selected), "--data", str(held_out(tmp_path)), "--half", "all"]
    assert main(args) == 0
    assert main(["calibrate", "--model", str(final), "--temperature-from", str(selected)]) == 0
    fitted, copied = (Tagger.load(p, "cpu").metadata["calibration"] for p in (selected, final))
    assert copied == {**fitted, "copied_from": str(selected)}
    with pytest.raises(SystemExit) as usage:  # neither --data nor --temperature-from
        main(["calibrate", "--model", str(final)])
    assert usage.value.code == 2


def test_cli_calibrates_a_context_model_on_the_windows_it_reads(
    model_path: Path, tmp_path: Path, monkeypatch
) -> None:
    import ner.inference.calibrate
    from ner.model.checkpoint import load_checkpoint, save_atomic

    obj = load_checkpoint(model_path)
    obj["model_config"]["context"] = 12
    path = tmp_path / "context.pt"
    save_atomic(obj, path)
    seen: list[list[str]] = []
    fit = ner.inference.calibrate.fit_temperature

    def spy(
        tagger: Tagger, units: list[list[str]], gold: list[list[str]], *args: object, **kw: object
    ) -> object:
        seen.extend(units)
        assert [len(u) for u in units] == [len(g) for g in gold] and kw.get("groups") is None
        return fit(tagger, units, gold)

    monkeypatch.setattr(ner.inference.calibrate, "fit_temperature", spy)
    args = ["calibrate", "--model", str(path), "--data", str(held_out(tmp_path)), "--half", "all"]
    assert main(args) == 0
    sentences = [[w for w, _ in s] for s in SENTENCES[::-1]]
    assert max(map(len, seen)) <= 12 and len(seen) < len(sentences)  # windows of several sentences
    assert [w for u in seen for w in u] == [w for s in sentences for w in s]


def test_cli_calibrates_a_memory_model_on_the_blocks_it_reads(
    memory_model_path: Path, tmp_path: Path, monkeypatch
) -> None:
    import shutil

    import ner.inference.calibrate
    from tests.conftest import DOCUMENTS, write_documents

    path = tmp_path / "memory.pt"
    shutil.copy(memory_model_path, path)
    data = write_documents(tmp_path / "documents.txt", DOCUMENTS[::-1])  # not the training file
    seen: list[list[int]] = []
    fit = ner.inference.calibrate.fit_temperature

    def spy(
        tagger: Tagger, units: list[list[str]], gold: list[list[str]], *args: object, **kw: object
    ) -> object:
        groups = kw["groups"]
        assert isinstance(groups, list) and len(groups) == len(units)
        seen.append(groups)
        return fit(tagger, units, gold, groups=groups)

    monkeypatch.setattr(ner.inference.calibrate, "fit_temperature", spy)
    assert main(["calibrate", "--model", str(path), "--data", str(data), "--half", "all"]) == 0
    (groups,) = seen
    assert len(groups) == sum(map(len, DOCUMENTS)) and len(set(groups)) >= len(DOCUMENTS)
    assert "temperature" in Tagger.load(path, "cpu").metadata["calibration"]
