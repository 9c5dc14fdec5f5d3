"""handover, maintenance: the operator moves the VIPs (operate/procedures.py). Run here, without
the agent; the agent's ubus methods run the same procedures."""

from __future__ import annotations

import argparse

from ..config.load import validate
from ..operate import procedures
from ..operate.peer import ask
from ..paths import Paths
from .output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, fail, print_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable


def peer_asker(paths: Paths, model: Any) -> Callable[[], dict]:
    def ask_peer() -> dict:
        if model.node.peer is None:
            raise RuntimeError("no peer configured (ha.global.peer)")
        return ask(paths, str(model.node.peer), model.dhcp.ssh_port)
    return ask_peer


def run(paths: Paths, what: Callable[[Any], dict]) -> tuple[int, dict]:
    """(exit status, answer) of one procedure; the answer always has `ok`, and `error` when not ok."""
    result = validate(paths)
    if result.model is None:
        return EXIT_INVALID, {"ok": False, "error": f"{paths.ha_config} is invalid: run `ha-pair check`"}
    try:
        return EXIT_OK, what(result.model)
    except procedures.Refused as exc:
        return EXIT_FAILED, {"ok": False, "refused": True, "error": f"refused: {exc}"}
    except procedures.Failed as exc:
        return EXIT_FAILED, {"ok": False, "refused": False, "error": f"failed: {exc}"}


def _answer(args: argparse.Namespace, status: int, answer: dict, text: str) -> int:
    if args.json:
        print_json(answer)
    elif answer.get("ok"):
        print(text)
    else:
        fail(answer["error"])
    return status


def handover(args: argparse.Namespace, paths: Paths) -> int:
    status, answer = run(paths, lambda model: procedures.handover(paths, model, peer_asker(paths, model), "ha-pair"))
    return _answer(args, status, answer,
                   f"handed over: {answer.get('peer')} is master ({answer.get('took_s')} s); this node yields")


def maintenance(args: argparse.Namespace, paths: Paths) -> int:
    on = args.mode == "on"
    status, answer = run(paths, lambda model: procedures.maintenance(
        paths, model, on, args.force, peer_asker(paths, model), "ha-pair"))
    if on:
        text = "maintenance mode ON: this node stays out of mastership until `ha-pair maintenance off`"
        if answer.get("peer_took_over") is False:
            text += " (the peer has not reported mastership yet)"
    else:
        text = "maintenance mode OFF" if answer.get("changed") else "maintenance mode was not on"
    return _answer(args, status, answer, text)


def config_sync(args: argparse.Namespace, paths: Paths) -> int:
    """The shared part of /etc/config/ha to the peer, the difference shown first."""
    from ..operate.config_sync import run as sync

    answer = sync(paths, args.dry_run)
    if not answer["ok"] or args.json:
        return _answer(args, EXIT_OK if answer["ok"] else EXIT_FAILED, answer, "")
    print(answer["diff"] or "the peer's shared configuration is the same: nothing to send", end="")
    if answer["diff"]:
        print("(dry run: nothing sent)" if answer["dry_run"] else "sent: the peer took it and reloads")
    return EXIT_OK
