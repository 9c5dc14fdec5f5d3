"""check, render, show: from /etc/config/ha to the generated files."""

from __future__ import annotations

import argparse
import difflib
import sys
import os

from ..apply import dhcp_config
from ..fs import atomic_write
from ..operate.hold import restore_at_start
from ..apply.daemon_tests import DaemonTest, test_files
from ..config import single_wan
from ..config.load import read_inputs, validate, validate_inputs
from ..paths import Paths
from ..render import generated_files, redact
from ..uci import dump
from .output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, fail, print_json, report_problems


def check(args: argparse.Namespace, paths: Paths) -> int:
    result = validate(paths)
    tests: list[DaemonTest] = []
    if result.model is not None and not args.no_daemon_tests:
        tests = test_files(result.model, generated_files(result.model))
    ok = result.ok and all(t.ok for t in tests)
    if args.json:
        print_json({
            "ok": ok,
            "errors": [p.as_dict() for p in result.errors],
            "warnings": [p.as_dict() for p in result.warnings],
            "digest": result.model.digest if result.model else None,
            "daemon_tests": [t.as_dict() for t in tests],
        })
    else:
        report_problems(result.errors, result.warnings)
        report_daemon_tests(tests)
        if ok:
            print(f"configuration valid ({len(result.warnings) + sum(bool(t.warning) for t in tests)} warnings)")
    return EXIT_OK if ok else EXIT_INVALID


def report_daemon_tests(tests: list[DaemonTest]) -> None:
    for test in tests:
        if not test.ran:
            print(f"note: {test.output}", file=sys.stderr)
        elif not test.ok:
            print(f"error: {test.program} refuses the generated file:\n{test.output}", file=sys.stderr)
        elif test.warning:
            print(f"warning: {test.program}: {test.warning}", file=sys.stderr)


def render(args: argparse.Namespace, paths: Paths) -> int:
    """Write the generated files; with an invalid configuration write nothing at all. Says which
    files it wrote or removed: for people, as JSON (--json), or one path per line (--list-changed)."""
    inputs, result = validate_inputs(paths)
    report_problems(result.errors, result.warnings)
    if result.model is None:
        return fail(f"{paths.config('ha')} is invalid ({len(result.errors)} errors); nothing was written",
                    EXIT_INVALID)
    model = result.model
    # A disabled node generates nothing (the init script starts nothing) and undoes its DHCP changes.
    wanted = generated_files(model) if model.node.enabled else {}
    # What `check` refuses is never written, including what only a daemon's own parser catches.
    tests = test_files(model, wanted)
    report_daemon_tests([t for t in tests if t.ran and (t.warning or not t.ok)])
    if not all(t.ok for t in tests):
        return fail("a daemon refuses the generated configuration; nothing was written", EXIT_INVALID)
    try:
        dhcp_text, dhcp_changes = dhcp_config.plan(paths, inputs.dhcp if inputs else None, model)
        changed = [str(path) for path, text in wanted.items() if atomic_write(path, text, 0o600)]
        for stale in (paths.keepalived_conf, paths.conntrackd_conf, paths.dhcp_guard, paths.wan_silence):
            if stale not in wanted and stale.exists():
                stale.unlink()
                changed.append(str(stale))
        if dhcp_config.write(paths, dhcp_text, dhcp_changes):
            changed.append(str(paths.config("dhcp")))
        dhcp_config.keep_reservations_file(paths, dhcp_changes)
        if model.node.enabled:  # before keepalived starts: a node in maintenance stays out
            restore_at_start(paths)
    except (OSError, RuntimeError) as exc:
        return fail(str(exc), EXIT_FAILED)
    if args.json:
        print_json({"ok": True, "enabled": model.node.enabled, "changed": changed, "digest": model.digest})
        return EXIT_OK
    if args.list_changed:  # the init script reloads dnsmasq when /etc/config/dhcp is one of them
        print("".join(f"{path}\n" for path in changed), end="")
        return EXIT_OK
    for path in changed:
        print(f"{'removed' if not os.path.exists(path) else 'wrote'} {path}")
    if not model.node.enabled:
        print("ha-pair is disabled (ha.global.enabled is 0): nothing to run")
    elif not changed:
        print("nothing changed")
    return EXIT_OK


def show(args: argparse.Namespace, paths: Paths) -> int:
    """Print what render would write, secrets masked, without writing anything."""
    inputs, result = validate_inputs(paths)
    report_problems(result.errors, result.warnings)
    if result.model is None:
        return EXIT_INVALID
    files = {str(path): redact(text) for path, text in generated_files(result.model).items()}
    try:
        dhcp_text, _ = dhcp_config.plan(paths, inputs.dhcp if inputs else None, result.model)
    except RuntimeError as exc:
        return fail(str(exc), EXIT_FAILED)
    dhcp_diff = ""
    if dhcp_text is not None:
        current = paths.config("dhcp").read_text(errors="surrogateescape")
        dhcp_diff = "".join(difflib.unified_diff(
            current.splitlines(keepends=True), dhcp_text.splitlines(keepends=True),
            str(paths.config("dhcp")), f"{paths.config('dhcp')} (after render)"))
    network_diff = single_wan_diff(paths, inputs.network if inputs else None, result.model)
    if args.json:
        print_json({"files": files, "dhcp_diff": dhcp_diff, "network_diff": network_diff})
        return EXIT_OK
    for path, text in files.items():
        print(f"==> {path} <==\n{text}")
    print(f"==> {paths.config('dhcp')} <==")
    print(dhcp_diff or "(no change)")
    if result.model.single_wan is not None:
        print(f"==> {paths.config('network')} (one dynamic public IP: make these changes yourself, on both routers) <==")
        print(network_diff or "(nothing missing)")
    return EXIT_OK


def single_wan_diff(paths: Paths, network, model) -> str:
    """What /etc/config/network lacks for ha.global.single_wan_ip, as a diff (ha-pair never writes
    that file). The MAC proposed as the shared one is the primary's current WAN MAC."""
    mode = model.single_wan
    if mode is None or network is None:
        return ""
    mac = None
    if mode.wan_device and model.node.role == "primary":  # the secondary takes the primary's
        try:
            mac = paths.under(f"/sys/class/net/{mode.wan_device}/address").read_text().strip()
        except OSError:
            pass
        if not single_wan.is_mac(mac or ""):
            mac = None
    _, wanted = single_wan.plan(network, mode.wan, mode.wan_device, mode.lan, str(mode.lan_vip), mac)
    if wanted.content() == network.content():
        return ""
    current = paths.config("network").read_text(errors="surrogateescape")
    return "".join(difflib.unified_diff(current.splitlines(keepends=True), dump(wanted).splitlines(keepends=True),
                                        str(paths.config("network")), f"{paths.config('network')} (needed)"))


def unapply(args: argparse.Namespace, paths: Paths) -> int:
    """Undo what ha-pair changed outside /var (the DHCP settings) and remove its generated files:
    what the package runs before it is removed. Works with any /etc/config/ha, valid or not."""
    inputs, _ = read_inputs(paths)
    changed = []
    try:
        dhcp_text, changes = dhcp_config.plan(paths, inputs.dhcp if inputs else None, None)
        if dhcp_config.write(paths, dhcp_text, changes):
            changed.append(str(paths.config("dhcp")))
        if paths.dhcp_record.exists():
            paths.dhcp_record.unlink()
        dhcp_config.keep_reservations_file(paths, changes)
        for generated in (paths.keepalived_conf, paths.conntrackd_conf, paths.dhcp_guard, paths.wan_silence):
            if generated.exists():
                generated.unlink()
                changed.append(str(generated))
    except (OSError, RuntimeError) as exc:
        return fail(str(exc), EXIT_FAILED)
    if args.json:
        print_json({"ok": True, "changed": changed})
    else:
        print("\n".join(f"restored or removed {path}" for path in changed) or "nothing to undo")
    return EXIT_OK
