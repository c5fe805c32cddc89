"""Outputs of ner tag (ner/corpus/files.py): never half-written under the final name, never through a link,
never the input, one run at a time, resumed only from the same input."""

import os
from pathlib import Path

import pytest

from ner.corpus.files import Output, check_output, fingerprint_path, partial_path
from ner.runtime import InputError


def _input(tmp_path: Path, text: str = "Alice visited Paris.\n") -> str:
    source = tmp_path / "in.txt"
    source.write_text(text)
    return str(source)


def test_the_final_name_appears_only_after_finish(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    output = Output(str(out), inputs=(_input(tmp_path),))
    output.write('{"a": 1}\n')
    assert not out.exists() and partial_path(out).read_text() == '{"a": 1}\n'
    assert fingerprint_path(partial_path(out)).exists()
    output.finish()
    assert out.read_text() == '{"a": 1}\n'
    assert not partial_path(out).exists() and not fingerprint_path(partial_path(out)).exists()


def test_a_write_error_keeps_the_partial_file_under_its_own_name(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    output = Output(str(out))
    output.write("one\n")
    output.close()  # what ner tag does on any error
    assert not out.exists() and partial_path(out).read_text() == "one\n"


@pytest.mark.parametrize("force", [False, True])
def test_a_partial_file_that_is_a_symlink_is_never_written_through(tmp_path: Path, force: bool) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.jsonl"
    partial_path(out).symlink_to(victim)
    with pytest.raises(InputError, match="not a regular file"):
        check_output(str(out), [], force=force, resume=not force)
    with pytest.raises(InputError, match="symlink"):
        Output(str(out), resume=not force, force=force)
    assert victim.read_text() == "precious\n" and partial_path(out).is_symlink() and not out.exists()


def test_the_partial_file_is_never_the_input(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    source = partial_path(out)
    source.write_text("x\n" * 200)
    with pytest.raises(InputError, match="partial file"):
        check_output(str(out), [str(source)], force=True, resume=False)
    hard = tmp_path / "hard.txt"  # the same file under another name
    os.link(source, hard)
    with pytest.raises(InputError, match="partial file"):
        check_output(str(out), [str(hard)], force=True, resume=False)
    with pytest.raises(InputError, match="is the input"):
        Output(str(out), force=True, inputs=(str(hard),))
    assert source.read_text() == "x\n" * 200


def test_a_second_run_on_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = Output(str(out))
    first.write("first\n")
    with pytest.raises(InputError, match="another run is writing this output"):
        Output(str(out), force=True)
    assert partial_path(out).read_text() == "first\n"  # not truncated by the refused run
    first.finish()
    assert out.read_text() == "first\n"


def test_finish_never_replaces_a_file_that_appeared_during_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    output = Output(str(out))
    output.write("mine\n")
    out.write_text("another run's finished output\n")
    with pytest.raises(InputError, match="appeared during this run"):
        output.finish()
    assert out.read_text() == "another run's finished output\n"
    assert partial_path(out).read_text() == "mine\n"
    forced = Output(str(out), resume=True, force=True)
    forced.finish()
    assert out.read_text() == "mine\n"


def test_resume_refuses_a_partial_output_of_another_input(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = _input(tmp_path, "Alice visited Paris.\n")
    output = Output(str(out), inputs=(first,))
    output.write("line\n")
    output.close()
    other = tmp_path / "other.txt"
    other.write_text("Bob stayed home.\n")
    with pytest.raises(InputError, match="made from another input"):
        Output(str(out), resume=True, inputs=(str(other),))
    resumed = Output(str(out), resume=True, inputs=(first,))
    assert resumed.kept_lines == 1
    resumed.close()
