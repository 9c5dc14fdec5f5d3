"""Why a transition happened, best effort, from what the node can see at that moment (pure).

keepalived reports only the new state. The agent adds what it knows: health checks that are
down, links without carrier, whether the peer still answers on the sync link, and whether the
service is being stopped.
"""

from __future__ import annotations

from ..record import record


@record(frozen=True)
class ReasonContext:
    checks_down: tuple[tuple[str, str], ...] = ()  # (check name, failure mode: weight|fault)
    links_down: tuple[str, ...] = ()  # devices the VIPs or checks depend on, without carrier
    peer_reachable: bool | None = None  # answers on the sync link; None: unknown
    stopping: bool = False  # ha-pair is being stopped by the operator or a shutdown
    operator: str = ""  # the hold (operate/hold.py): "maintenance", "handover", "split_brain" (the policy) or ""


def infer_reason(from_state: str, to_state: str, ctx: ReasonContext) -> str:
    fault_checks = [name for name, mode in ctx.checks_down if mode == "fault"]
    weight_checks = [name for name, mode in ctx.checks_down if mode == "weight"]
    if to_state == "stopped":
        return "operator: ha-pair stopped" if ctx.stopping else "keepalived stopped"
    if to_state == "fault":
        if ctx.operator == "maintenance":
            return "operator: maintenance mode"
        if ctx.operator == "handover":
            return "operator: handover to the peer"
        if ctx.operator == "split_brain":
            return "split brain: the secondary steps down (ha.global.split_brain)"
        if ctx.links_down:
            return f"interface {', '.join(ctx.links_down)} down"
        if fault_checks:
            return f"health check {', '.join(fault_checks)} failed"
        return "fault reported by keepalived"
    if to_state == "backup":
        if from_state in ("unknown", "stopped"):
            return "startup: following the current master"
        if weight_checks:
            return f"health check {', '.join(weight_checks)} failed (priority lowered)"
        if from_state == "fault" and ctx.operator == "handover":
            return "operator: handover done, yielding to the peer"
        if from_state == "fault":
            return "recovered from fault"
        if from_state == "master":
            return "preemption: the peer took over with a higher priority"
        return "backup"
    if to_state == "master":
        if from_state in ("unknown", "stopped"):
            return "startup: no master heard"
        if from_state == "fault":
            return "recovered from fault, no master heard"
        if ctx.peer_reachable is False:
            return "peer stopped advertising (it does not answer on the sync link either)"
        if ctx.peer_reachable:
            return "peer stopped advertising or gave up mastership, or preemption (it still answers on the sync link)"
        return "peer stopped advertising"
    return to_state
