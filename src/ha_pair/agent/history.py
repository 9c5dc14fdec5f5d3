"""The transition history, kept in the run directory so an agent restart does not lose it."""

from __future__ import annotations

from .. import leanjson
from ..fs import atomic_write
from ..fspath import FsPath
from ..state.pair import HISTORY_SIZE, Transition


def load(path: FsPath) -> list[Transition]:
    try:
        data = leanjson.loads(path.read_text())
        return [Transition.from_dict(item) for item in data[-HISTORY_SIZE:]]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # a missing or damaged history is not a reason to stop


def save(path: FsPath, history: tuple[Transition, ...]) -> None:
    atomic_write(path, leanjson.dumps([t.as_dict() for t in history[-HISTORY_SIZE:]]) + "\n", 0o644)
