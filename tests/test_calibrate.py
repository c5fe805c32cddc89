import copy
from pathlib import Path

import pytest

from ner.calibrate import GRID, fit_temperature
from ner.cli import main
from ner.tagger import Tagger
from tests.conftest import SENTENCES


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


def test_cli_calibrate_updates_the_checkpoint(
    model_path: Path, data_dir: Path, tmp_path: Path, capsys
) -> None:
    copy_path = tmp_path / "m.pt"
    copy_path.write_bytes(model_path.read_bytes())
    assert (
        main(["calibrate", "--model", str(copy_path), "--data", str(data_dir / "train.txt"), "--half", "all"])
        == 0
    )
    assert "temperature" in capsys.readouterr().out
    calibrated = Tagger.load(copy_path, "cpu")
    assert calibrated.temperature == pytest.approx(calibrated.metadata["calibration"]["temperature"])


def test_cli_calibrates_a_context_model_on_the_windows_it_reads(
    model_path: Path, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import ner.calibrate
    from ner.checkpoint import load_checkpoint, save_atomic

    obj = load_checkpoint(model_path)
    obj["model_config"]["context"] = 12
    path = tmp_path / "context.pt"
    save_atomic(obj, path)
    seen: list[list[str]] = []
    fit = ner.calibrate.fit_temperature

    def spy(
        tagger: Tagger, units: list[list[str]], gold: list[list[str]], *args: object, **kw: object
    ) -> object:
        seen.extend(units)
        assert [len(u) for u in units] == [len(g) for g in gold] and kw.get("groups") is None
        return fit(tagger, units, gold)

    monkeypatch.setattr(ner.calibrate, "fit_temperature", spy)
    args = ["calibrate", "--model", str(path), "--data", str(data_dir / "train.txt"), "--half", "all"]
    assert main(args) == 0
    sentences = [[w for w, _ in s] for s in SENTENCES]
    assert max(map(len, seen)) <= 12 and len(seen) < len(sentences)  # windows of several sentences
    assert [w for u in seen for w in u] == [w for s in sentences for w in s]


def test_cli_calibrates_a_memory_model_on_the_blocks_it_reads(
    memory_model_path: Path, tmp_path: Path, monkeypatch
) -> None:
    import shutil

    import ner.calibrate
    from tests.conftest import DOCUMENTS, write_documents

    path = tmp_path / "memory.pt"
    shutil.copy(memory_model_path, path)
    data = write_documents(tmp_path / "documents.txt", DOCUMENTS)
    seen: list[list[int]] = []
    fit = ner.calibrate.fit_temperature

    def spy(
        tagger: Tagger, units: list[list[str]], gold: list[list[str]], *args: object, **kw: object
    ) -> object:
        groups = kw["groups"]
        assert isinstance(groups, list) and len(groups) == len(units)
        seen.append(groups)
        return fit(tagger, units, gold, groups=groups)

    monkeypatch.setattr(ner.calibrate, "fit_temperature", spy)
    assert main(["calibrate", "--model", str(path), "--data", str(data), "--half", "all"]) == 0
    (groups,) = seen
    assert len(groups) == sum(map(len, DOCUMENTS)) and len(set(groups)) >= len(DOCUMENTS)
    assert "temperature" in Tagger.load(path, "cpu").metadata["calibration"]
