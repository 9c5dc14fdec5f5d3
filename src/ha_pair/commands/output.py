"""How commands speak: text for people, JSON (--json) for programs, errors on stderr."""

from __future__ import annotations

import sys

from .. import leanjson

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:  # not imported at run time: `ha-pair status` needs none of the config code
    from typing import Any, Iterable
    from ..config.values import Problem

EXIT_OK = 0
EXIT_FAILED = 1  # the configuration is fine but something on the system failed
EXIT_INVALID = 2  # the configuration (or the request) is invalid


def print_json(data: Any) -> None:
    sys.stdout.write(leanjson.dumps_pretty(data) + "\n")


def report_problems(errors: Iterable["Problem"], warnings: Iterable["Problem"]) -> None:
    for problem in errors:
        print(f"error: {problem}", file=sys.stderr)
    for problem in warnings:
        print(f"warning: {problem}", file=sys.stderr)


def fail(message: str, status: int = EXIT_FAILED) -> int:
    print(f"ha-pair: {message}", file=sys.stderr)
    return status
