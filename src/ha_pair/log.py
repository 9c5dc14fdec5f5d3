"""Log lines to syslog (read them with `logread -e ha-pair`) and to stderr: the command line's
caller (a terminal, the init script, the peer's SSH client for the forced command) sees them too.
The agent writes to stderr too, except as a procd service (see `daemon_mode`): procd logs a
service's stderr as priority err, so every line would be in logread twice.
Not the logging module: that is python3-logging on OpenWrt."""

from __future__ import annotations

import os
import sys
import syslog

_opened = False
_to_stderr = True


def daemon_mode() -> None:
    """For the agent: no stderr when procd runs it. procd is PID 1 and the parent of the services
    it starts; anyone else who starts the agent (a terminal, a test) keeps its stderr."""
    global _to_stderr
    _to_stderr = sys.stderr is not None and (sys.stderr.isatty() or os.getppid() != 1)


def _emit(priority: int, label: str, message: str) -> None:
    global _opened
    if not _opened:
        syslog.openlog("ha-pair", syslog.LOG_PID, syslog.LOG_DAEMON)
        _opened = True
    for line in message.splitlines() or [""]:
        syslog.syslog(priority, line)
    if _to_stderr and sys.stderr is not None:
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
