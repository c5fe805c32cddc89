from pathlib import Path

import pytest

from ner.runtime import InputError
from ner.text.conll import read_conll
from tests.conftest import SENTENCES, write_conll


def test_reads_sentences_scheme_and_line_numbers(tmp_path: Path) -> None:
    corpus = read_conll(write_conll(tmp_path / "a.txt", SENTENCES[:2]))
    assert [s.tokens for s in corpus.sentences] == [[w for w, _ in s] for s in SENTENCES[:2]]
    assert corpus.sentences[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert corpus.sentences[0].lines == [3, 4, 5, 6, 7]
    assert corpus.scheme == "iob2"
    assert len(corpus.sha256) == 64


def test_any_number_of_columns_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"Paris B-LOC\r\nis O\r\n\r\nOslo B-LOC\r\n")
    corpus = read_conll(path)
    assert [s.tags for s in corpus.sentences] == [["B-LOC", "O"], ["B-LOC"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Paris NNP B-LOC\nis O\n", "a.txt:2: expected 3 columns, found 2"),
        (b"Paris NNP PLACE\n", "a.txt:1: unknown tag 'PLACE'"),
        (b"Paris NNP B-LOC\nis VBZ O\nnice JJ I-LOC\n", "a.txt:3: tag 'I-LOC' breaks the IOB2 scheme"),
        (b"", "a.txt: no sentences found"),
        (b"-DOCSTART- -X- O\n\n", "a.txt: no sentences found"),
        (b"Paris B-LOC\ncaf\xe9 O\n", "a.txt:2: not UTF-8"),
        (b"Paris\n", "a.txt:1: expected a token and a tag"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_conll(path)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_conll(tmp_path / "nope.txt")


def test_untagged_file_keeps_every_column(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Paris\nis\n\nOslo\n")
    corpus = read_conll(path, with_tags=False)
    assert [s.tokens for s in corpus.sentences] == [["Paris", "is"], ["Oslo"]]
    assert corpus.scheme is None


def test_documents_are_the_docstart_blocks(tmp_path: Path) -> None:
    path = tmp_path / "docs.txt"
    path.write_text(
        "-DOCSTART- -X- O\n\nA B-PER\n\nB O\n\n-DOCSTART- -X- O\n\nC B-LOC\n-DOCSTART- -X- O\nD O\n"
    )
    corpus = read_conll(path)
    assert [[s.tokens for s in d] for d in corpus.documents()] == [[["A"], ["B"]], [["C"]], [["D"]]]
    plain = tmp_path / "plain.txt"
    write_conll(plain, SENTENCES[:3])
    assert [len(d) for d in read_conll(plain).documents()] == [3]  # no -DOCSTART-: one document
