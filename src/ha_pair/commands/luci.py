"""`ha-pair rpcd-luci list|call METHOD`: the rpcd exec plugin behind luci-app-ha (the ubus object
`luci.ha`, /usr/libexec/rpcd/luci.ha).

`validate` checks the values of LuCI's settings form with exactly the rules of `ha-pair check`
(config.load.validate_proposal), before LuCI stages them: a value the agent would reject never
reaches /etc/config/ha. `interfaces` lists the OpenWrt interfaces of /etc/config/network (name,
device, static addresses) for the form's pickers, so that an account with only luci-app-ha's
ACL, which may not read `network`, can still choose and save. `config_sync` ({"dry_run": bool}) is
`ha-pair config-sync` for the Status page's button (ACL group luci-app-ha-operate), in a process of
its own so the agent never waits for the peer. None needs a running agent. The form sends the `ha` package in the shape
`ubus call uci get` returns it: {section id: {".type", ".name", ".anonymous", ".index", option:
value or [values]}}. rpcd adds `ubus_rpc_session`; unknown keys are ignored. Failures are
answered as {"error": "..."} (rpcd's convention: any exit status, an object on stdout).
"""

from __future__ import annotations

import json
import sys

from ..config.load import validate_proposal
from ..config.network import resolve
from ..paths import Paths
from ..uci import Package, UciSyntaxError, load
from ..uci.package import NAME_RE
from .output import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any
    import argparse

# rpcd reads argument types from the samples
METHODS = {"validate": {"config": {}}, "interfaces": {}, "config_sync": {"dry_run": False}}


def rpcd_plugin(args: argparse.Namespace, paths: Paths) -> int:
    if args.action == "list":
        reply: dict[str, Any] = METHODS
    elif args.action == "call" and args.method == "interfaces":
        reply = interfaces(paths)
    elif args.action == "call" and args.method in ("config_sync", "validate"):
        try:
            request = json.loads(sys.stdin.read() or "{}")
        except ValueError as exc:
            request = {"error": f"bad request: {exc}"}
        if not isinstance(request, dict):
            request = {"error": "bad request: the arguments must be an object"}
        if "error" in request:
            reply = {"error": request["error"]} if args.method == "validate" else {"ok": False, "error": request["error"]}
        elif args.method == "config_sync":
            from ..operate.config_sync import run as sync
            reply = sync(paths, request.get("dry_run") is True)
        else:
            try:
                reply = validate(paths, request.get("config"))
            except ValueError as exc:
                reply = {"error": f"bad request: {exc}"}
    else:
        reply = {"error": f"unknown method {args.method!r}; known: {', '.join(METHODS)}"}
    json.dump(reply, sys.stdout)
    sys.stdout.write("\n")
    return EXIT_OK


def validate(paths: Paths, config: object) -> dict[str, Any]:
    package = package_from_uci_values(config)
    result = validate_proposal(paths, package)
    return {"valid": result.ok,
            "errors": [{"path": p.path, "message": p.message} for p in result.errors],
            "warnings": [{"path": p.path, "message": p.message} for p in result.warnings]}


def interfaces(paths: Paths) -> dict[str, Any]:
    try:
        network = load(paths.config("network"), "network")
    except (OSError, UciSyntaxError) as exc:
        return {"error": f"cannot read {paths.config('network')}: {exc}"}
    return {"interfaces": [{"name": i.name, "device": i.device, "proto": i.proto,
                            "addresses": [str(a) for a in i.addresses]}
                           for i in resolve(network).values() if i.name != "loopback"]}


def package_from_uci_values(config: object) -> Package:
    """The `ha` package from `uci get`'s shape; ValueError for anything else."""
    if not isinstance(config, dict):
        raise ValueError("config must be an object of sections, as `ubus call uci get` returns it")
    package = Package("ha", path="/etc/config/ha (the form's values)")
    sections = [s for s in config.values() if isinstance(s, dict)]
    if len(sections) != len(config):
        raise ValueError("every section must be an object")
    for values in sorted(sections, key=lambda s: s.get(".index", 0) if isinstance(s.get(".index"), int) else 0):
        kind, name = values.get(".type"), values.get(".name")
        if not isinstance(kind, str) or not NAME_RE.match(kind):
            raise ValueError(f"section {name!r}: .type {kind!r} is not a UCI name")
        anonymous = values.get(".anonymous") is True
        if not anonymous and (not isinstance(name, str) or not NAME_RE.match(name)):
            raise ValueError(f"section name {name!r} is not a UCI name")
        section = package.add(kind, None if anonymous else name)
        for option, value in values.items():
            if option.startswith("."):
                continue
            if not NAME_RE.match(option):
                raise ValueError(f"{name}: option {option!r} is not a UCI name")
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                for item in value:
                    section.add_list(option, item)
            elif isinstance(value, str):
                section.set(option, value)
            else:
                raise ValueError(f"{name}.{option}: a value must be a string or a list of strings")
    return package
