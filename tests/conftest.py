from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: on a busy machine (CI, parallel builds) an example may take seconds,
# which says nothing about the property under test.
settings.register_profile("ha-pair", deadline=None)
settings.load_profile("ha-pair")

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO / "src"), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

SRC = REPO / "src"


def _bytecode_dirs() -> set[Path]:
    return set(SRC.rglob("__pycache__"))


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _bytecode_dirs()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """ha-pair never writes bytecode (the package compiles it on install): neither may a test, or a
    program it starts, in src/ (every subprocess keeps PYTHONDONTWRITEBYTECODE from `make`)."""
    new = sorted(_bytecode_dirs() - session.config.stash.get(_BEFORE, set()))
    if new:
        listed = ", ".join(str(d.relative_to(REPO)) for d in new)
        session.config.get_terminal_writer().line(f"ERROR: bytecode written into src/ during the tests: {listed}",
                                                  red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set]()
