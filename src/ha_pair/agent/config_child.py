"""The agent's work on /etc/config, done in short-lived children so that the UCI parser, the
validation rules and what they allocate never enter the long-running agent's memory:
- validating: `ha-pair agent-config`; the agent keeps only the Model it hands back (config/wire.py)
  and its error texts, those of `ha-pair check`, passed on unchanged;
- config sync (ubus `config_sync`, and the push on reload): `ha-pair --json config-sync`, whose
  answer is the agent's (it also loads subprocess and difflib)."""

from __future__ import annotations

import sys

from .. import leanjson, spawn
from ..config.wire import loads
from ..paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any
    from ..config.model import Model

TIMEOUT_S = 30.0  # validating takes well under a second even on a small router
SYNC_TIMEOUT_S = 120.0  # the peer's answer (up to 45 s: operate/config_sync.push) and SSH's own start


def _ha_pair(paths: Paths, *args: str, timeout: float) -> tuple[int, bytes, bytes]:
    """`ha-pair --root ROOT ARGS` run by this interpreter: (exit code, stdout, stderr)."""
    return spawn.run([sys.executable, str(paths.command), "--root", str(paths.root), *args], timeout, out=spawn.PIPE)


def validate(paths: Paths) -> tuple[Model | None, list[str]]:
    """The model of /etc/config as it is now (None when invalid) and the errors, from the child run
    by this interpreter; a child that fails or answers garbage is an error too."""
    what = f"the configuration check ({paths.command} agent-config)"
    try:
        code, out, err = _ha_pair(paths, "agent-config", timeout=TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return None, [f"{what} did not run: {str(exc) or f'no answer within {TIMEOUT_S:.0f} s'}"]
    if code == 0:
        try:
            return loads(out)
        except (ValueError, KeyError, TypeError) as exc:
            err += f"unreadable answer: {exc}".encode()
    return None, [f"{what} failed (exit {code}): {err.decode(errors='replace').strip()[-300:]}"]


def config_sync(paths: Paths, dry_run: bool) -> dict[str, Any]:
    """operate.config_sync.run's answer (`ok`, `diff`, `sent`, or `error`), from the command's child;
    an error answer when the child gave none."""
    try:
        code, out, err = _ha_pair(paths, "--json", "config-sync", *(["--dry-run"] if dry_run else []),
                                  timeout=SYNC_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "refused": False,
                "error": f"config sync did not run: {str(exc) or f'no answer within {SYNC_TIMEOUT_S:.0f} s'}"}
    if out.lstrip().startswith(b"{"):  # its answer, also when it failed (exit 1)
        answer = leanjson.loads(out)
        if isinstance(answer, dict) and "ok" in answer:
            return answer
    return {"ok": False, "refused": False,
            "error": f"config sync failed (exit {code}): {err.decode(errors='replace').strip()[-300:]}"}
