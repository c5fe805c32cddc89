"""Log lines as text or as JSON (one object per line, for log collectors), for the service and uvicorn."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_PLAIN = set(vars(logging.makeLogRecord({})))  # the attributes every record has


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...}``: fields passed with ``extra=`` come too."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _PLAIN and k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(log_format: str) -> None:
    """Log through the root logger's handlers (``ner``'s command line sets one up), in ``log_format``
    ("text" or "json"); uvicorn's loggers propagate to them (``ner serve`` runs uvicorn without a
    logging config of its own)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
