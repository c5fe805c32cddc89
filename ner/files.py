"""Files in and out of ``ner tag``: plain or gzip, ``-`` for stdin and stdout, and outputs that never
clobber anything.

An output file is written as ``NAME.partial`` beside it and renamed to ``NAME`` when complete, so
``NAME`` is never half-written and an existing file is replaced only with ``force``. The partial file
holds whole lines only (gzip: whole members, one per chunk) and is what ``resume`` continues.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import BinaryIO

from ner.errors import InputError, unreadable

STDIO = "-"


def open_input(name: str) -> BinaryIO:
    """A binary stream of the named file (``-`` is stdin), decompressed if it is gzip.

    Raises:
        InputError: for a file that is missing, a directory or unreadable.
    """
    if name == STDIO:
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(name, "rb")  # noqa: SIM115 (the caller closes the stream)
        except OSError as exc:
            raise unreadable(exc, name) from None
    peek = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if peek == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def first_line(stream: BinaryIO) -> bytes:
    """The first line of a stream without consuming it, where the stream can peek (else ``b""``)."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    return bytes(peek(4096)).split(b"\n", 1)[0]


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def check_output(output: str, inputs: list[str], force: bool, resume: bool) -> None:
    """Refuse, before any work, an output that would destroy something or could never be written.

    Raises:
        InputError: the output is an input, exists (without ``force``), is not a regular file (a
            device, FIFO or symlink: stream to ``-`` instead), or its folder is missing or not
            writable; or ``resume`` was asked with nothing to resume, or a partial output exists
            and neither ``resume`` nor ``force`` says what to do with it.
    """
    if output == STDIO:
        if resume:
            raise InputError("--resume needs an output file, not stdout")
        return
    path = Path(output)
    for name in inputs:
        if name != STDIO and os.path.exists(name) and path.exists() and os.path.samefile(name, path):
            raise InputError("is the input file; give another --output", output)
    if path.is_symlink() or (path.exists() and not stat.S_ISREG(path.stat().st_mode)):
        raise InputError("exists and is not a regular file (use --output - to stream to stdout)", output)
    if path.exists() and not force:
        raise InputError("already exists (pass --force to overwrite it)", output)
    folder = path.parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("the output folder is not writable", folder)
    partial = partial_path(path)
    if resume and not partial.exists():
        raise InputError(f"nothing to resume: {partial} does not exist", output)
    if partial.exists() and not (resume or force):
        raise InputError(
            f"a partial output {partial} is there from an earlier run: "
            "pass --resume to continue it or --force to start over",
            output,
        )


class Output:
    """Whole chunks of lines written to ``NAME.partial`` (or stdout), renamed to ``NAME`` by
    :meth:`finish`. Gzip when the name ends in ``.gz``: one gzip member per chunk, so a partial file
    stays readable up to its last whole member."""

    def __init__(self, name: str, resume: bool = False) -> None:
        self.name = name
        self.gzip = name.endswith(".gz")
        self.kept_lines = 0  # lines already in the partial output (resume)
        self.partial: Path | None = None
        if name == STDIO:
            self.path: Path | None = None
            self._file: BinaryIO = sys.stdout.buffer
            return
        self.path = Path(name)
        self.partial = partial = partial_path(self.path)
        if resume:
            self.kept_lines = _truncate_to_whole(partial, self.gzip)
            self._file = open(partial, "ab")  # noqa: SIM115 (closed by finish or close)
        else:
            self._file = open(partial, "wb")  # noqa: SIM115

    def keep_lines(self, lines: int) -> None:
        """Cut the partial output back to its first ``lines`` lines (fewer than it holds)."""
        if lines == self.kept_lines:
            return
        if self.gzip or self.path is None:  # gzip members end with chunks, at sentence boundaries
            raise InputError("cannot cut a gzip output back inside a chunk", self.name)
        position = seen = 0
        partial = partial_path(self.path)
        with open(partial, "rb") as f:
            for line in f:
                if seen == lines:
                    break
                position += len(line)
                seen += 1
        self._file.truncate(position)
        self._file.seek(position)
        self.kept_lines = lines

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        if self.gzip:
            data = gzip.compress(data, compresslevel=6)
        self._file.write(data)
        self._file.flush()

    def finish(self) -> None:
        """Close and put the output in place."""
        if self.path is None:
            self._file.flush()
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(partial_path(self.path), self.path)

    def close(self) -> None:
        """Close without putting the output in place (interrupted or failed: the partial file stays)."""
        if self.path is not None:
            self._file.close()
        else:
            self._file.flush()


def _truncate_to_whole(path: Path, is_gzip: bool) -> int:
    """Cut a partial output back to its last whole line (gzip: last whole member), and count its
    lines, reading it in blocks."""
    keep, lines = _whole_gzip_members(path) if is_gzip else _whole_lines(path)
    if keep != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(keep)
    return lines


def _whole_lines(path: Path) -> tuple[int, int]:
    keep = lines = position = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            last = block.rfind(b"\n")
            if last >= 0:
                keep = position + last + 1
                lines += block.count(b"\n")
            position += len(block)
    return keep, lines


def _whole_gzip_members(path: Path) -> tuple[int, int]:
    """The end of the last complete gzip member whose text ends a line, and the lines before it."""
    keep = lines = counted = position = 0
    member = zlib.decompressobj(wbits=31)
    ends_line = False
    with open(path, "rb") as f:
        pending = b""
        while True:
            block = pending or f.read(1 << 20)
            pending = b""
            if not block:
                break
            try:
                out = member.decompress(block)
            except zlib.error:
                break
            counted += out.count(b"\n")
            if out:
                ends_line = out.endswith(b"\n")
            if member.eof:
                pending = member.unused_data
                position += len(block) - len(pending)
                if ends_line:
                    keep, lines = position, counted
                member = zlib.decompressobj(wbits=31)
            else:
                position += len(block)
    return keep, lines
