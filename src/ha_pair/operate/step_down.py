"""The split-brain policy `secondary_steps_down` (ha.global.split_brain): the secondary leaves
mastership through the operator's hold (OUT: FAULT, so its VIPs go at once; a lower priority
would not do, since a master without the peer's adverts never hears a better one), marked as the
policy's so that status and transition reasons say why and nothing else lifts it by mistake.

The hold lives in /var/run: a reboot or `ha-pair render` ends it (render lifts an OUT hold
without maintenance), and the agent tries mastership again after split_brain_recheck seconds, or
at once when the peer stops being master or cannot be asked (better two masters than none).
"""

from __future__ import annotations

import time

from .. import leanjson
from ..config.model import Model
from ..fs import atomic_write
from ..paths import Paths
from . import hold


def applies(model: Model) -> bool:
    return model.node.split_brain == "secondary_steps_down" and model.node.role == "secondary"


def stepped_down(paths: Paths) -> float | None:
    """Since when this node is out because of the policy (None: it is not)."""
    if hold.read_hold(paths) != hold.OUT or hold.maintenance(paths) is not None:
        return None
    try:
        since = leanjson.loads(paths.split_brain_hold.read_text()).get("since")
    except (OSError, ValueError, AttributeError):
        return None
    return since if isinstance(since, (int, float)) else None


def step_down(paths: Paths) -> bool:
    """Hold this node out; not when the operator holds it out already (maintenance, a handover)."""
    if hold.maintenance(paths) is not None or hold.read_hold(paths) == hold.OUT:
        return False
    paths.split_brain_hold.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.split_brain_hold, leanjson.dumps({"since": round(time.time(), 3)}) + "\n", 0o644)
    hold.write_hold(paths, hold.OUT)
    return True


def release(paths: Paths) -> bool:
    """Lift the policy's hold (only that one); True when it was in force."""
    held = stepped_down(paths) is not None
    if held:
        hold.write_hold(paths, hold.NORMAL)
    try:
        paths.split_brain_hold.unlink()
    except FileNotFoundError:
        pass
    return held
