"""The `ha-pair` command line. Command modules are imported only when used, so that
`ha-pair status` starts fast on a small router."""

from __future__ import annotations

import sys

from .paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    import argparse

# subcommand -> (module in ha_pair.commands, function, help)
COMMANDS = {
    "check": ("config", "check", "validate /etc/config/ha and test the rendered files with the daemons' parsers"),
    "render": ("config", "render", "write the generated files (nothing when the config is invalid)"),
    "show": ("config", "show", "print what render would write, without writing"),
    "unapply": ("config", "unapply", "undo ha-pair's DHCP settings and remove its generated files"),
    "keys": ("lease", "keys", "create the lease sync key; print the authorized_keys line for the peer"),
    "trust-peer": ("lease", "trust_peer", "show the peer's SSH host key fingerprint and pin it"),
    "lease-sync": ("lease", "lease_sync", "exchange DHCP leases with the peer now"),
    "lease-peer": ("lease_hot", "lease_peer", "the sync key's forced command (run by dropbear, not by hand)"),
    "lease-import": ("lease_hot", "lease_import", "stop dnsmasq, swap in the synced leases, start it (run by the agent)"),
    "handover": ("operate", "handover", "on the master: hand the VIPs to the peer now (refused unless it can take over)"),
    "maintenance": ("operate", "maintenance", "keep this node out of mastership (on) until turned off (off)"),
    "config-sync": ("operate", "config_sync", "send the shared part of /etc/config/ha to the peer (diff first)"),
    "status": ("status", "status", "the pair's state, from the agent (or what can be seen without it)"),
    "history": ("status", "history", "the last transitions with their reasons"),
    "agent": ("status", "agent", "run the agent (procd starts it)"),
    "agent-config": ("agent_config", "agent_config", "the validated configuration for the agent (run by the agent)"),
    "rpcd-luci": ("luci", "rpcd_plugin", "luci-app-ha's rpcd exec plugin (run by rpcd, not by hand)"),
}


def _parser() -> argparse.ArgumentParser:
    import argparse
    parser = argparse.ArgumentParser(prog="ha-pair", description="Active/backup router pair for OpenWrt.")
    parser.add_argument("--root", default="/",
                        help="treat DIR as the router's / (tests and the lab); default /")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, function, text) in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        p.set_defaults(module=module, function=function)
        if name == "check":
            p.add_argument("--no-daemon-tests", "--no-keepalived-test", dest="no_daemon_tests", action="store_true",
                           help="skip `keepalived -t`, conntrackd's and nft's parsers")
        # --json also after the subcommand (`ha-pair status --json`), without hiding a global one
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
        if name == "render":
            p.add_argument("--list-changed", action="store_true",
                           help="print only the files written or removed, one path per line (for scripts)")
        if name == "agent":
            p.add_argument("--ubus-socket", default=None, help="ubusd socket (default: libubus's own)")
        if name == "trust-peer":
            p.add_argument("--yes", action="store_true", help="pin without asking (after checking the fingerprint)")
            p.add_argument("--key", default=None, help="pin this public key ('ssh-ed25519 AAAA...') without asking")
        if name == "lease-import":
            p.add_argument("--now", type=int, default=None, help=argparse.SUPPRESS)
        if name == "rpcd-luci":
            p.add_argument("action", choices=("list", "call"))
            p.add_argument("method", nargs="?", default=None)
        if name == "maintenance":
            p.add_argument("mode", choices=("on", "off"))
            p.add_argument("--force", action="store_true",
                           help="also when the peer cannot be asked, is in maintenance or could not take over")
        if name == "config-sync":
            p.add_argument("--dry-run", action="store_true", help="show the difference only, send nothing")
        if name == "lease-sync":
            p.add_argument("--catch-up", action="store_true", help="before answering DHCP: short, imports leases")
    return parser


QUICK = ("status", "history", "agent", "agent-config", "lease-peer", "lease-import")


class QuickArgs:
    """The parsed arguments of a quick command, as argparse's Namespace would hold them (not
    types.SimpleNamespace: one import less on the status path)."""

    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def _quick_parse(argv: list[str]) -> QuickArgs | None:
    """The agent (a long-running daemon) and its configuration child, `status`/`history` (run
    often, e.g. by scripts) and the lease commands on the propagation path (the forced command, the
    import helper) start without argparse: ~8 ms and ~1.5 MB less on a router. Only their plain
    forms, `[--root DIR] [--json] status|history|agent|agent-config|lease-peer|lease-import [--json]
    [--ubus-socket PATH] [--now N]`; anything else (help, errors) goes to argparse."""
    options: dict = {"root": "/", "json": False, "ubus_socket": None, "now": None, "command": None}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--json":
            options["json"] = True
        elif word in ("--root", "--ubus-socket") and words:
            options[word[2:].replace("-", "_")] = words.pop(0)
        elif word == "--now" and words and words[0].isdigit() and words[0].isascii():
            options["now"] = int(words.pop(0))
        elif word in QUICK and options["command"] is None:
            options["command"] = word
        else:
            return None
    command = options["command"]
    if command is None or (options["ubus_socket"] and command != "agent") \
            or (options["now"] is not None and command != "lease-import"):
        return None
    module, function, _ = COMMANDS[command]
    return QuickArgs(**options, module=module, function=function)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _quick_parse(argv) or _parser().parse_args(argv)
    # __import__ rather than importlib.import_module: importlib loads warnings, one more import per run
    handler = getattr(__import__(f"{__package__}.commands.{args.module}", fromlist=[args.function]), args.function)
    try:
        return handler(args, Paths(args.root))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
