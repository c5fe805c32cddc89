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
