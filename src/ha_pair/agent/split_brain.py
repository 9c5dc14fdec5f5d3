"""The agent's split-brain handling (a part of agent.loop.Agent, kept apart for its size): when
the peer view asks next, judging each report (state.split_brain), logging and announcing an
episode once (log, hooks with ACTION=split_brain / split_brain_end, ubus event ha.split_brain),
and the policy ha.global.split_brain secondary_steps_down (operate/step_down.py). Runs in the
agent's loop; the peer view's worker only asks peer_poll_interval."""

from __future__ import annotations

import time

from .. import leanthreads, log, spawn
from ..operate import step_down
from ..state.split_brain import CONFIRM_S, SplitBrain
from ..state.split_brain import step as split_brain_step
from .peer_view import POLL_S, POLL_STEPPED_DOWN_S

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable
    from ..config.model import Model
    from ..paths import Paths
    from ..state.pair import PairState
    from ..ubus.registration import Registration
    from .peer_view import PeerView


class SplitBrainHandling:
    paths: Paths
    model: Model | None
    state: PairState
    peer_view: PeerView | None
    split_brain: SplitBrain
    ubus: Registration | None
    schedule: Callable[[float, str, Callable[[], None]], None]

    def peer_poll_interval(self) -> float:
        """Seconds until the peer view asks again; asked by its worker right after each report,
        possibly before the loop has judged that report, so a suspicion is read from the report
        itself: the confirming question goes CONFIRM_S after the first report that raised it."""
        if step_down.stepped_down(self.paths) is not None:
            return POLL_STEPPED_DOWN_S  # a secondary that stepped down watches for the peer to stop being master
        view = self.peer_view.status() if self.peer_view is not None else {}
        if not self.split_brain.active and self.state.node_state == "master" and view.get("reachable") \
                and view.get("state") == "master" and (view.get("last_heard") or 0) >= (self.state.since or 0):
            first = self.split_brain.suspected or view["last_heard"]
            return max(0.05, first + CONFIRM_S - time.time())
        return POLL_S

    def check_split_brain(self) -> None:
        """After each report from the peer and each transition (in the loop): start or end an
        episode, logged once and announced to the hooks and on ubus; apply the policy."""
        view = self.peer_view.status() if self.peer_view is not None else None
        self.split_brain, event = split_brain_step(self.split_brain, self.state.node_state, self.state.since, view,
                                                   time.time())
        self._policy_release(view)
        if event is None:
            return
        split = self.split_brain
        peer = (view or {}).get("node") or (str(self.model.node.peer) if self.model else "")
        if event == "start":
            log.error(f"SPLIT BRAIN: {split.cause} (peer {peer})")
            self.run_hooks("split_brain", {"CAUSE": split.cause or "", "PEER": peer})
            self._policy_step_down()
        else:
            log.warning(f"split brain over after {time.time() - (split.since or time.time()):.1f} s")
            self.run_hooks("split_brain_end", {"PEER": peer})
        if self.ubus is not None:
            self.ubus.send_event("ha.split_brain", {**split.as_dict(), "node": self.model.node.name if self.model
                                                   else None})

    def _policy_step_down(self) -> None:
        if self.model is None or not step_down.applies(self.model) or not step_down.step_down(self.paths):
            return
        recheck = self.model.node.split_brain_recheck
        log.warning(f"split brain policy secondary_steps_down: this secondary goes to FAULT, and tries mastership "
                    f"again in {recheck} s")
        self.schedule(recheck, "split-brain-recheck", self._policy_recheck)

    def _policy_release(self, view: dict[str, Any] | None) -> None:
        """A secondary that stepped down comes back at once when the peer is no longer master, or
        cannot be asked: then nothing says the peer holds the VIPs."""
        if step_down.stepped_down(self.paths) is None or self.peer_view is None:
            return
        view = view or {}
        if view.get("reachable") and view.get("state") == "master":
            return
        why = "cannot be asked" if not view.get("reachable") else f"reports state {view.get('state')}"
        if step_down.release(self.paths):
            log.warning(f"split brain policy: the peer {why}: this secondary takes part in VRRP again")

    def _policy_recheck(self) -> None:
        since = step_down.stepped_down(self.paths)
        recheck = self.model.node.split_brain_recheck if self.model else 0
        if since is not None and time.time() - since < recheck - 0.5:  # a timer left from an earlier step-down
            self.schedule(recheck - (time.time() - since), "split-brain-recheck", self._policy_recheck)
            return
        if step_down.release(self.paths):
            log.info("split brain policy: trying mastership again (a split brain still there steps down again)")

    def run_hooks(self, action: str, env: dict[str, str]) -> None:
        """The user's hooks (/etc/hotplug.d/ha) with ACTION, as the notify script runs them for
        transitions; in the background, never waited for by the loop."""
        runner = self.paths.hooks_runner
        try:  # spawn, not subprocess: the agent stays without subprocess and its imports
            child = spawn.Child([str(runner)], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ACTION": action, **env},
                                new_session=True)
        except OSError as exc:
            log.warning(f"cannot run the hooks ({runner}): {exc}")
            return
        leanthreads.Thread(child.wait).start()
