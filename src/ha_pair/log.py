"""Log lines to syslog (read them with `logread -e ha-pair`) and, when stderr is a terminal, to
stderr too. Not under procd: procd logs a service's stderr as priority err, so every line would
be in logread twice. Not the logging module: that is python3-logging on OpenWrt."""

from __future__ import annotations

import sys
import syslog

_opened = False


def _emit(priority: int, label: str, message: str) -> None:
    global _opened
    if not _opened:
        syslog.openlog("ha-pair", syslog.LOG_PID, syslog.LOG_DAEMON)
        _opened = True
    for line in message.splitlines() or [""]:
        syslog.syslog(priority, line)
    if sys.stderr is not None and sys.stderr.isatty():
        print(f"ha-pair: {label}: {message}", file=sys.stderr, flush=True)


def info(message: str) -> None:
    _emit(syslog.LOG_INFO, "info", message)


def warning(message: str) -> None:
    _emit(syslog.LOG_WARNING, "warning", message)


def error(message: str) -> None:
    _emit(syslog.LOG_ERR, "error", message)


def exception(message: str) -> None:
    """An error with the traceback of the exception being handled."""
    import traceback  # only when something went wrong

    _emit(syslog.LOG_ERR, "error", f"{message}\n{traceback.format_exc().rstrip()}")
