"""The pair's state as the agent sees it: a pure state machine fed by keepalived's events.

The node's state is the sync group's when there is one (every VIP instance moves with it),
otherwise the single instance's. A change of the node's state is a transition; the last
HISTORY_SIZE transitions are kept.
"""

from __future__ import annotations

from ..record import record, field, replace

from ..events.keepalived_fifo import VrrpEvent

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

HISTORY_SIZE = 50
NODE_STATES = {"MASTER": "master", "BACKUP": "backup", "FAULT": "fault", "STOP": "stopped", "DELETED": "stopped"}


@record(frozen=True)
class Transition:
    time: float
    scope: str  # "group ha" or "instance lan"
    from_state: str
    to_state: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"time": round(self.time, 3), "scope": self.scope, "from": self.from_state, "to": self.to_state,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transition":
        return cls(float(data["time"]), str(data["scope"]), str(data["from"]), str(data["to"]), str(data["reason"]))


@record(frozen=True)
class Member:
    state: str  # master | backup | fault | stopped
    since: float
    priority: int


@record(frozen=True)
class PairState:
    node_state: str = "unknown"
    since: float | None = None
    instances: tuple[tuple[str, Member], ...] = ()
    group: tuple[str, Member] | None = None
    last_transition: Transition | None = None
    history: tuple[Transition, ...] = field(default=())

    def instance(self, name: str) -> Member | None:
        return dict(self.instances).get(name)


def apply_event(state: PairState, event: VrrpEvent, now: float, uses_group: bool,
                reason: Callable[[str, str], str]) -> tuple[PairState, Transition | None]:
    """The state after `event`, and the transition it caused (None if the node's state holds)."""
    member = Member(NODE_STATES[event.state], now, event.priority)
    if event.kind == "GROUP":
        state = replace(state, group=(event.name, member))
    else:
        instances = dict(state.instances)
        instances[event.name] = member
        state = replace(state, instances=tuple(sorted(instances.items())))
    decides = (event.kind == "GROUP") == uses_group
    if not decides or member.state == state.node_state:
        return state, None
    scope = f"{event.kind.lower()} {event.name}"
    transition = Transition(now, scope, state.node_state, member.state, reason(state.node_state, member.state))
    history = (state.history + (transition,))[-HISTORY_SIZE:]
    return replace(state, node_state=member.state, since=now, last_transition=transition, history=history), transition


def with_history(history: list[Transition]) -> PairState:
    """The state an agent starts with: nothing known yet but the persisted history."""
    kept = tuple(history[-HISTORY_SIZE:])
    return PairState(last_transition=kept[-1] if kept else None, history=kept)


def resumed(state: PairState, events: list[tuple[float, VrrpEvent]], uses_group: bool) -> PairState:
    """After an agent restart: the states keepalived last reported (replayed from the notify
    script's log), without recording them again as transitions."""
    for at, event in events:
        after, _ = apply_event(state, event, at, uses_group, lambda f, t: "")
        state = replace(after, last_transition=state.last_transition, history=state.history)
    return state
