"""The one exception type that public boundaries raise for bad input."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input, located: ``str(error)`` reads ``path:line: what was wrong``."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        where = "" if path is None else f"{path}:" if line is None else f"{path}:{line}:"
        super().__init__(f"{where} {message}" if where else message)
        self.reason = message
        self.path = path
        self.line = line

    def at(self, path: str | Path) -> InputError:
        """The same error, located in ``path`` (for errors found before the file name was known)."""
        return InputError(self.reason, path, self.line)


def unreadable(exc: OSError, path: str | Path) -> InputError:
    """The :class:`InputError` for a file that could not be opened for reading."""
    if isinstance(exc, FileNotFoundError):
        return InputError("file not found", path)
    if isinstance(exc, IsADirectoryError):
        return InputError("is a directory, expected a file", path)
    return InputError(f"cannot read: {exc.strerror}", path)
