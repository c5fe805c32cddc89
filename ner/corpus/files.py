"""Files in and out of ``ner tag``: plain or gzip, ``-`` for stdin and stdout, and outputs that never
clobber anything.

An output file is written as ``NAME.partial`` beside it and renamed to ``NAME`` when complete, so
``NAME`` is never half-written and an existing file is replaced only with ``force``. The partial file
holds whole lines only (gzip: whole members, one per chunk) and is what ``resume`` continues.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import io
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import BinaryIO

from ner.runtime import InputError, unreadable

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


def fingerprint_path(partial: Path) -> Path:
    """Beside a partial output: which input it was made from (see :func:`input_fingerprint`)."""
    return partial.with_name(partial.name + ".input")


FINGERPRINT_BYTES = 1 << 20


def input_fingerprint(name: str) -> str | None:
    """What identifies an input for ``--resume``: its size and a hash of its first MiB (``None``
    for stdin, which cannot be read twice)."""
    if name == STDIO:
        return None
    try:
        with open(name, "rb") as f:
            head = f.read(FINGERPRINT_BYTES)
            size = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise unreadable(exc, name) from None
    return f"{size} {hashlib.sha256(head).hexdigest()}"


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(output: str, inputs: list[str], force: bool, resume: bool) -> None:
    """Refuse, before any work, an output that would destroy something or could never be written.

    Raises:
        InputError: the output (or its partial file) is an input, exists (without ``force``), is not
            a regular file (a device, FIFO or symlink: stream to ``-`` instead), or its folder is
            missing or not writable; or ``resume`` was asked with nothing to resume, or a partial
            output exists and neither ``resume`` nor ``force`` says what to do with it.
    """
    if output == STDIO:
        if resume:
            raise InputError("--resume needs an output file, not stdout")
        return
    path = Path(output)
    partial = partial_path(path)
    for name in inputs:
        if name == STDIO:
            continue
        if _same_file(name, path):
            raise InputError("is the input file; give another --output", output)
        if _same_file(name, partial) or Path(name).absolute() == partial.absolute():
            raise InputError(
                f"the input is this output's partial file {partial}; give another --output", output
            )
    for candidate in (path, partial):
        if candidate.is_symlink() or (candidate.exists() and not stat.S_ISREG(candidate.stat().st_mode)):
            raise InputError(
                "exists and is not a regular file (use --output - to stream to stdout)", candidate
            )
    if path.exists() and not force:
        raise InputError("already exists (pass --force to overwrite it)", output)
    folder = path.parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("the output folder is not writable", folder)
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
    stays readable up to its last whole member.

    The partial file is opened without following a symlink, must be a regular file and no input, and
    is locked for the run: a second run on the same output is refused while the first one writes.
    Beside it, ``NAME.partial.input`` records the input it is made from, which ``resume`` checks.
    ``NAME`` appears only by :meth:`finish`, after a complete write, and replaces an existing file
    only with ``force``.
    """

    def __init__(
        self, name: str, resume: bool = False, force: bool = False, inputs: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.gzip = name.endswith(".gz")
        self.force = force
        self.kept_lines = 0  # lines already in the partial output (resume)
        self.partial: Path | None = None
        if name == STDIO:
            self.path: Path | None = None
            self._file: BinaryIO = sys.stdout.buffer
            return
        self.path = Path(name)
        self.partial = partial = partial_path(self.path)
        fd = _open_partial(partial, inputs)
        self._file = os.fdopen(fd, "r+b")
        try:
            self._start(partial, resume, inputs)
        except BaseException:
            self._file.close()
            raise

    def _start(self, partial: Path, resume: bool, inputs: tuple[str, ...]) -> None:
        mark = fingerprint_path(partial)
        prints = [input_fingerprint(name) for name in inputs]
        wanted = "\n".join(p or "-" for p in prints)
        if resume:
            recorded = mark.read_text(encoding="utf-8").strip() if mark.exists() else None
            if recorded is not None and recorded != wanted:
                raise InputError(
                    f"{partial} was made from another input (or the input changed since): "
                    "pass --force to start over",
                    self.name,
                )
            self.kept_lines = _truncate_to_whole(partial, self.gzip)
            self._file.seek(0, os.SEEK_END)
        else:
            self._file.truncate(0)
        if any(p is not None for p in prints):
            mark.write_text(wanted + "\n", encoding="utf-8")

    def keep_lines(self, lines: int) -> None:
        """Cut the partial output back to its first ``lines`` lines (fewer than it holds)."""
        if lines == self.kept_lines:
            return
        if self.gzip or self.path is None:  # gzip members end with chunks, at sentence boundaries
            raise InputError("cannot cut a gzip output back inside a chunk", self.name)
        position = 0
        self._file.seek(0)
        for seen, line in enumerate(self._file):
            if seen == lines:
                break
            position += len(line)
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
        """Close and put the output in place: only after every byte is on disk, and over an
        existing ``NAME`` only with ``force`` (another run may have finished it meanwhile).

        Raises:
            InputError: ``NAME`` appeared during the run and ``force`` was not given (the output
                stays in the partial file).
        """
        if self.path is None:
            self._file.flush()
            return
        assert self.partial is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        try:
            if self.force:
                os.replace(self.partial, self.path)
            else:
                try:
                    os.link(self.partial, self.path)  # fails if NAME exists: never replaced unasked
                except FileExistsError:
                    raise InputError(
                        f"appeared during this run; the output is in {self.partial} "
                        "(pass --force to replace it)",
                        self.path,
                    ) from None
                os.unlink(self.partial)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(fingerprint_path(self.partial))
        finally:
            self._file.close()  # and with it the lock

    def close(self) -> None:
        """Close without putting the output in place (interrupted or failed: the partial file stays)."""
        if self.path is not None:
            with contextlib.suppress(OSError):  # a full disk may refuse the last buffered bytes
                self._file.close()
        else:
            self._file.flush()


def _open_partial(partial: Path, inputs: tuple[str, ...]) -> int:
    """A descriptor of the partial file, opened for writing without truncating it, never through a
    symlink, checked to be a regular file that is no input, and locked.

    Raises:
        InputError: for a symlink, anything but a regular file, an input, or a partial file that
            another run holds.
    """
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(partial, flags | os.O_NONBLOCK, 0o644)  # non-blocking: a FIFO must not hang us
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symlink: refusing to write through it", partial) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("exists and is not a regular file", partial)
        for name in inputs:
            if name != STDIO and _same_file(name, partial):
                raise InputError("is the input file; give another --output", partial)
        os.set_blocking(fd, True)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                "another run is writing this output now (its partial file is locked)", partial
            ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


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
