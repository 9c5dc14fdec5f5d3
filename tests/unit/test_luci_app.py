"""luci-app-ha's files without a browser: package layout, menu, ACL, the rpcd plugin, the generated
schema module, translations. What the pages do is tested in a real browser against the real
agent, rpcd and uhttpd (tests/controlplane/test_luci_page.py, test_luci_lab.py)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from ha_pair.config import luci_form
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "luci-app-ha"
RESOURCES = APP / "htdocs" / "luci-static" / "resources"
STATUS_JS = RESOURCES / "view" / "ha" / "status.js"
SETTINGS_JS = RESOURCES / "view" / "ha" / "settings.js"
OVERVIEW_JS = RESOURCES / "view" / "status" / "include" / "70_ha.js"
SCHEMA_JS = RESOURCES / "ha" / "schema.js"
JS_FILES = sorted(RESOURCES.rglob("*.js"))
MENU = APP / "root" / "usr" / "share" / "luci" / "menu.d" / "luci-app-ha.json"
ACL = APP / "root" / "usr" / "share" / "rpcd" / "acl.d" / "luci-app-ha.json"
PLUGIN = APP / "root" / "usr" / "libexec" / "rpcd" / "luci.ha"
POT = APP / "po" / "templates" / "luci-app-ha.pot"

# Modules luci-base provides to views (classes built into luci.js and the files in
# modules/luci-base/htdocs/luci-static/resources), and this app's own.
LUCI_MODULES = {
    "baseclass", "dom", "poll", "request", "session", "view", "rpc", "uci", "ui", "form", "fs", "network",
    "firewall", "validation", "xhr", "uqr", "tools.widgets", "tools.views", "tools.prng",
    "protocol.static", "protocol.dhcp",
}
APP_MODULES = {"ha.schema"}


def requires(source: str) -> list[tuple[str, str]]:
    """The 'require x [as y]' directives at the top, as luci.js reads them: (module, name in the file)."""
    found = []
    for line in source.splitlines()[1:]:
        line = line.strip()
        if not (line.startswith("'require ") and line.rstrip(";").endswith("'")):
            break
        words = line.rstrip(";")[1:-1].split()
        assert len(words) in (2, 4) and (len(words) == 2 or words[2] == "as"), line
        found.append((words[1], words[3] if len(words) == 4 else words[1].split(".")[-1]))
    return found


# --- package shape ----------------------------------------------------------------------------------

def test_upstream_layout():
    for path in (APP / "Makefile", APP / "README.md", STATUS_JS, SETTINGS_JS, OVERVIEW_JS, SCHEMA_JS, MENU, ACL,
                 PLUGIN, POT):
        assert path.is_file(), path
    assert [p.relative_to(RESOURCES).as_posix() for p in JS_FILES] == [
        "ha/schema.js", "view/ha/settings.js", "view/ha/status.js", "view/status/include/70_ha.js"]
    assert PLUGIN.stat().st_mode & stat.S_IXUSR, "rpcd only runs exec plugins with the owner-exec bit"


def test_makefile_is_a_luci_mk_app_that_needs_the_agent():
    makefile = (APP / "Makefile").read_text()
    assert re.search(r"^LUCI_PKGARCH:=all$", makefile, re.M)
    depends = re.search(r"^LUCI_DEPENDS:=(.*)$", makefile, re.M).group(1).split()
    assert "+luci-base" in depends and "+ha-pair" in depends
    assert re.search(r"^LUCI_TITLE:=\S", makefile, re.M)
    # built from the ha-pair feed (tests/package builds it): luci.mk from the luci feed, and
    # ha-pair's version, maintainer, address and licence rather than luci.mk's
    assert re.search(r"^include \$\(TOPDIR\)/feeds/luci/luci\.mk$", makefile, re.M)
    for line in ("PKG_VERSION:=$(HA_PAIR_VERSION)", "PKG_RELEASE:=$(HA_PAIR_RELEASE)", "PKG_LICENSE:=$(HA_PAIR_LICENSE)",
                 "LUCI_MAINTAINER:=$(HA_PAIR_MAINTAINER)", "LUCI_URL:=$(HA_PAIR_URL)"):
        assert re.search(rf"^{re.escape(line)}$", makefile, re.M), line


def test_acl_names_only_its_own_objects_and_methods():
    """What each grant means is tested over HTTP against rpcd (tests/controlplane/test_acl.py);
    here: two groups, no wildcard, nothing but ha-pair's objects and /etc/config/ha."""
    acl = json.loads(ACL.read_text())
    assert list(acl) == ["luci-app-ha", "luci-app-ha-operate"]
    grant = acl["luci-app-ha"]
    assert set(grant) == {"description", "read", "write"}
    assert "*" not in ACL.read_text()
    for level in ("read", "write"):
        assert set(grant[level]) == {"ubus", "uci"}, level
        assert set(grant[level]["ubus"]) <= {"ha", "luci.ha"} and grant[level]["uci"] == ["ha"], level
    assert "validate" in grant["write"]["ubus"]["luci.ha"]  # only who may save asks for a check
    # written out independently: what each page needs and nothing else (the status page and the
    # overview box read status and history, the form lists interfaces; saving checks and writes ha)
    assert grant["read"] == {"ubus": {"ha": ["status", "history"], "luci.ha": ["interfaces"]}, "uci": ["ha"]}
    assert grant["write"] == {"ubus": {"luci.ha": ["validate"]}, "uci": ["ha"]}
    # moving the VIPs is a group of its own, write only: a read-only login never gets it
    operate = acl["luci-app-ha-operate"]
    assert set(operate) == {"description", "write"}
    assert operate["write"] == {"ubus": {"ha": ["handover", "maintenance", "lease_sync", "config_sync"],
                                          "luci.ha": ["config_sync"]}}


def test_acl_grants_only_methods_that_exist(tmp_path: Path):
    """Every ubus method the ACL names is one the agent registers or the plugin lists."""
    from ha_pair.agent.loop import Agent
    from ha_pair.paths import Paths

    acl = json.loads(ACL.read_text())
    named = {(obj, method) for grant in acl.values() for level in ("read", "write")
             for obj, methods in grant.get(level, {}).get("ubus", {}).items() for method in methods}
    settings = {(obj, method) for level in ("read", "write")
                for obj, methods in acl["luci-app-ha"][level]["ubus"].items() for method in methods}
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    registered = {("ha", method) for method in Agent(Paths(str(root))).handlers()}
    listed = {("luci.ha", method) for method in plugin(root, "list")}
    assert named <= registered | listed
    # the settings ACL never moves the VIPs nor the peer's file: only luci-app-ha-operate does
    moving = {("ha", "handover"), ("ha", "maintenance"), ("ha", "config_sync"), ("luci.ha", "config_sync")}
    assert moving <= (registered | listed) & named and not settings & moving


def test_menu_depends_on_the_acl_and_the_config_and_points_at_existing_views():
    menu = json.loads(MENU.read_text())
    top = menu["admin/services/ha"]
    assert top["title"] == "High Availability"
    assert top["depends"] == {"acl": ["luci-app-ha"], "uci": {"ha": True}}
    assert set(menu) == {"admin/services/ha", "admin/services/ha/status", "admin/services/ha/settings"}
    views = {entry["action"]["path"] for entry in menu.values() if entry["action"]["type"] == "view"}
    assert views == {"ha/status", "ha/settings"}
    for view in views:
        assert (RESOURCES / "view" / f"{view}.js").is_file(), view
    # every view of the app is reachable from the menu (the overview include is loaded by Status → Overview)
    assert {p.stem for p in (RESOURCES / "view" / "ha").glob("*.js")} == {v.split("/")[1] for v in views}


# --- JS files -------------------------------------------------------------------------------------

def test_js_files_are_strict_luci_modules():
    """Whether they load and work is tested in a browser; here only LuCI's module header."""
    for path in JS_FILES:
        source = path.read_text()
        assert source.startswith("'use strict';\n'require "), path.name
        for module, _ in requires(source):
            assert module in LUCI_MODULES | APP_MODULES, f"{path.name}: unknown module {module}"


# --- translations -----------------------------------------------------------------------------------

def json_strings() -> set[str]:
    """LuCI's i18n scan also takes menu titles and ACL descriptions."""
    menu = json.loads(MENU.read_text())
    acl = json.loads(ACL.read_text())
    return {entry["title"] for entry in menu.values()} | {entry["description"] for entry in acl.values()}


def pot_entries() -> list[tuple[str, str]]:
    text = POT.read_text()
    assert text.startswith('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8"\n')
    entries = []
    for block in text.strip().split("\n\n")[1:]:
        lines = block.split("\n")
        assert all(line.startswith("#: luci-app-ha/") for line in lines[:-2]), block
        msgid = re.fullmatch(r'msgid "((?:[^"\\]|\\.)*)"', lines[-2])
        msgstr = re.fullmatch(r'msgstr "((?:[^"\\]|\\.)*)"', lines[-1])
        assert msgid and msgstr, block
        entries.append((re.sub(r"\\(.)", r"\1", msgid.group(1)), msgstr.group(1)))
    return entries


def test_pot_has_exactly_the_strings_of_the_app():
    entries = pot_entries()
    msgids = [msgid for msgid, _ in entries]
    assert all(msgstr == "" for _, msgstr in entries)
    assert len(msgids) == len(set(msgids)), "duplicate msgid"
    assert msgids == sorted(msgids), "not sorted like msguniq -s"
    # the strings LuCI's i18n scan finds (tests/support/pot.py scans the JS files as its
    # build/i18n-scan.pl does) plus the menu titles and ACL descriptions
    from tests.support import pot
    used = set(pot.strings())
    assert json_strings() <= used
    assert sorted(used - set(msgids)) == [], "used but missing from the .pot"
    assert sorted(set(msgids) - used) == [], "in the .pot but used nowhere"
    assert POT.read_text() == pot.template(), "stale references: regenerate with `python3 -m tests.support.pot`"


# --- the generated schema module and the rpcd plugin ---------------------------------------------------

def test_schema_module_is_generated_from_the_schema():
    assert SCHEMA_JS.read_text() == luci_form.module(), (
        "luci-app-ha's ha/schema.js is stale: regenerate it with "
        f"`PYTHONPATH=src python3 -m ha_pair.config.luci_form > {luci_form.TARGET}`")


def test_the_form_gets_typed_defaults_and_their_cases():
    sections = luci_form.sections()
    glob, conntrack = sections["global"]["options"], sections["conntrack"]["options"]
    assert glob["preempt"]["default"] is True and glob["enabled"]["default"] is False
    assert glob["priority"] == {"kind": "int", "choices": [], "min": 1, "max": 254, "list": False, "default": 150,
                                "cases": [{"when": {"role": "secondary"}, "default": 100}], "derived": None}
    assert glob["vrrp_version"]["cases"] == [{"when": {"profile": "fast"}, "default": "3"},
                                             {"when": {"profile": "fastest"}, "default": "3"}]
    assert glob["advert_int"]["default"] == 1 and glob["advert_int"]["cases"] == [  # seconds, as UCI writes them
        {"when": {"profile": "fast", "vrrp_version": "3"}, "default": 0.1},
        {"when": {"profile": "fastest", "vrrp_version": "3"}, "default": 0.04}]
    assert glob["realtime"]["default"] is False and glob["realtime"]["cases"] == [
        {"when": {"profile": "fast"}, "default": True}, {"when": {"profile": "fastest"}, "default": True}]
    assert conntrack["disable_external_cache"]["cases"] == [{"when": {"mode": "alarm"}, "default": False}]
    assert conntrack["multicast_group"]["default"] == "225.0.0.50"
    assert sections["check"]["options"]["weight"]["default"] == -60
    assert glob["node_name"]["default"] is None and glob["node_name"]["derived"] == "hostname"


def plugin(root: Path, *args: str, request: dict | None = None) -> dict:
    run = subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), "rpcd-luci", *args],
                         input=json.dumps(request) if request is not None else "", capture_output=True, text=True,
                         timeout=30, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return json.loads(run.stdout)


def uci_get_shape(root: Path) -> dict:
    """/etc/config/ha as `ubus call uci get` returns it (what the form sends)."""
    from ha_pair.uci import load

    package = load(str(root / "etc/config/ha"), "ha")
    out = {}
    for index, section in enumerate(package.sections):
        name = section.name or f"cfg{index:06x}"
        out[name] = {".type": section.type, ".name": name, ".anonymous": section.name is None, ".index": index,
                     **section.options}
    return out


def test_plugin_lists_its_methods_for_rpcd(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    assert plugin(root, "list") == {"validate": {"config": {}}, "interfaces": {}, "config_sync": {"dry_run": False}}


def test_plugin_config_sync_answers_with_the_reason_when_it_cannot(tmp_path: Path):
    """The transfer itself is proven in the lab (tests/lab/test_operate_lab.py); here: without a
    pinned host key for the peer, nothing is sent and the answer says why."""
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    answer = plugin(root, "call", "config_sync", request={"dry_run": True, "ubus_rpc_session": "x" * 32})
    assert answer["ok"] is False and answer["error"].startswith("hostkey: no host key pinned for 10.255.0.2"), answer
    assert plugin(root, "call", "config_sync", request=[1]) == {
        "ok": False, "error": "bad request: the arguments must be an object"}


def test_plugin_validates_with_the_rules_of_ha_pair_check(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    config = uci_get_shape(root)
    assert plugin(root, "call", "validate", request={"config": config, "ubus_rpc_session": "x" * 32}) == {
        "valid": True, "errors": [], "warnings": []}
    config["global"]["advert_int"] = "0.5"
    config["upstream"] = {".type": "check", ".name": "upstream", ".anonymous": False, ".index": 9,
                          "type": "ping", "target": "198.51.100.254", "weight": "0"}
    reply = plugin(root, "call", "validate", request={"config": config})
    assert reply["valid"] is False
    assert {e["path"] for e in reply["errors"]} == {"ha.global.advert_int", "ha.upstream.weight"}
    # the file on disk is what `ha-pair check` validates; it is untouched and still valid
    check = subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), "check", "--no-keepalived-test"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert check.returncode == 0, check.stderr


def test_plugin_answers_bad_requests_with_an_error_object(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    assert "error" in plugin(root, "call", "validate", request={"config": "global"})
    assert "error" in plugin(root, "call", "validate", request={"config": {"x": {".type": "bad type!"}}})
    assert "error" in plugin(root, "call", "nothing", request={})


def test_plugin_lists_interfaces_without_the_loopback(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    assert plugin(root, "call", "interfaces", request={}) == {"interfaces": [
        {"name": "lan", "device": "br-lan", "proto": "static", "addresses": ["192.168.50.2/24"]},
        {"name": "wan", "device": "eth1", "proto": "static", "addresses": ["198.51.100.2/24"]},
        {"name": "sync", "device": "eth2", "proto": "static", "addresses": ["10.255.0.1/30"]}]}
