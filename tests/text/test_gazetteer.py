"""Name lists as a per-token feature (:mod:`ner.text.gazetteer`)."""

from pathlib import Path

import pytest

from ner.runtime import InputError
from ner.text.gazetteer import MARKS, Gazetteer, read_lists


def _marks(g: Gazetteer, tokens: list[str]) -> list[str]:
    """Each token's marks as 'LABEL-MARK' joined by '+', '' for none."""
    out = []
    for code in g.codes(tokens):
        names = [f"{label}-{mark}" for k, label in enumerate(g.labels) for m, mark in enumerate(MARKS)
                 if code >> (4 * k + m) & 1]  # fmt: skip
        out.append("+".join(names))
    return out


def test_longest_match_in_bioes_form_per_list_from_a_capital_on() -> None:
    g = Gazetteer(
        {
            "LOC": [["New", "York"], ["York"], ["New", "York", "City"], ["Of"]],
            "ORG": [["New", "York", "Times"]],
        }
    )
    tokens = ["the", "NEW", "YORK", "TIMES", "says", "New", "york", "city", "and", "York"]
    tokens += ["of", "new", "york"]
    assert _marks(g, tokens) == [
        "", "LOC-B+ORG-B", "LOC-E+ORG-I", "ORG-E", "", "LOC-B", "LOC-I", "LOC-E", "", "LOC-S", "", "", "",
    ]  # fmt: skip
    assert g.bits == 8 and len(g) == 5


def test_typographic_forms_match_their_plain_names() -> None:
    g = Gazetteer({"PER": [["O'Neill"]]})
    assert _marks(g, ["O\u2019Neill"]) == ["PER-S"]  # a typeset apostrophe


def test_the_table_a_checkpoint_stores_gives_the_same_lists() -> None:
    g = Gazetteer({"LOC": [["New", "York"], ["Paris"]], "MISC": [["German"]]})
    again = Gazetteer.of_table(g.to_table())
    assert again.labels == g.labels and again.names == g.names
    with pytest.raises(ValueError, match="map each label to a list of names"):
        Gazetteer.of_table({"LOC": "Paris"})


def test_list_files_are_read_with_the_tokenizer_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "lists.tsv"
    good.write_text("# places\nLOC\tNew York\nLOC\tSt. Louis\n\nPER\tJean-Luc Picard\n", encoding="utf-8")
    g = read_lists([good])
    assert g.labels == ["LOC", "PER"]
    assert ("st.", "louis") in g.names[0] and ("jean-luc", "picard") in g.names[1]
    bad = tmp_path / "bad.tsv"
    bad.write_text("LOC\tParis\nno tab here\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.tsv:2: expected LABEL<TAB>name"):
        read_lists([bad])
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("LOC\tZürich\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_lists([latin])
    with pytest.raises(InputError, match="file not found"):
        read_lists([tmp_path / "missing.tsv"])
    empty = tmp_path / "empty.tsv"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match="hold no names"):
        read_lists([empty])
