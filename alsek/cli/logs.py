"""Logging for the CLI: text or JSON lines on stderr, or the user's own dictConfig.

``--log-format json`` writes one JSON object per line with ``time``,
``level``, ``logger`` and ``message``, plus, on per-task lines, ``uuid``,
``task``, ``queue``, ``outcome``, ``duration_ms`` and ``attempts``, and a
``traceback`` where there is one. ``--log-config FILE`` (JSON, or TOML by
extension) is handed to ``logging.config.dictConfig``, with
``disable_existing_loggers`` false unless the file says otherwise (Alsek's
loggers exist before the file is read).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
import sys
from pathlib import Path
from typing import Any

import click

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Record attributes copied into a JSON line when a record has them.
FIELDS = ("uuid", "task", "queue", "outcome", "duration_ms", "attempts")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        traceback = record.exc_text
        if record.exc_info and not traceback:
            traceback = self.formatException(record.exc_info)
        if traceback:
            line["traceback"] = traceback
        return json.dumps(line, default=str)


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        import tomllib

        data: Any = tomllib.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the file must hold one mapping (a dictConfig schema)")
    return data


def configure(level: str, fmt: str, config: Path | None) -> None:
    """Set up logging for a long-running command (see the module docstring)."""
    if config is not None:
        try:
            schema = _load(config)
            schema.setdefault("disable_existing_loggers", False)
            logging.config.dictConfig(schema)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError) as error:
            raise click.BadParameter(f"{config}: {error}", param_hint="'--log-config'") from None
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def log_options(command: Any) -> Any:
    """``--log-level``, ``--log-format`` and ``--log-config``, for long-running commands."""
    command = click.option(
        "--log-config",
        "log_config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Configure logging with this dictConfig file (JSON, or .toml); "
        "overrides --log-level and --log-format.",
    )(command)
    command = click.option(
        "--log-format",
        "log_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines as text, or as one JSON object per line.",
    )(command)
    return click.option(
        "--log-level",
        "--log_level",
        "log_level",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
        help="Logging level.",
    )(command)
