"""The agent validates /etc/config in a short-lived child, `ha-pair agent-config`, and keeps only the
Model it hands back (config/wire.py): the UCI parser, the validation rules and what validating
allocates never enter the long-running agent's memory (about 0.7 MB of its RSS on a lab router).
The child's error texts are those of `ha-pair check`, passed on unchanged."""

from __future__ import annotations

import sys

from .. import spawn
from ..config.wire import loads
from ..paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from ..config.model import Model

TIMEOUT_S = 30.0  # validating takes well under a second even on a small router


def validate(paths: Paths) -> tuple[Model | None, list[str]]:
    """The model of /etc/config as it is now (None when invalid) and the errors, from the child run
    by this interpreter; a child that fails or answers garbage is an error too."""
    argv = [sys.executable, str(paths.command), "--root", str(paths.root), "agent-config"]
    try:
        code, out, err = spawn.run(argv, TIMEOUT_S, out=spawn.PIPE)
    except (OSError, TimeoutError) as exc:
        return None, [f"the configuration check ({argv[1]} agent-config) did not run: {str(exc) or f'no answer within {TIMEOUT_S:.0f} s'}"]
    if code == 0:
        try:
            return loads(out)
        except (ValueError, KeyError, TypeError) as exc:
            err += f"unreadable answer: {exc}".encode()
    return None, [f"the configuration check ({argv[1]} agent-config) failed (exit {code}): "
                  f"{err.decode(errors='replace').strip()[-300:]}"]
