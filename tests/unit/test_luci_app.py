"""luci-app-ha without a browser: menu, ACL, Makefile, translations, the settings form against the
config schema, and the status views rendered by node against a real status JSON (LuCI stubbed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ha_pair.agent.probes import CheckResult
from ha_pair.agent.state import PairState, apply_event
from ha_pair.config import schema
from ha_pair.config.validate import Inputs, build_model
from ha_pair.events.keepalived_fifo import VrrpEvent
from ha_pair.paths import Paths
from ha_pair.status.build import Snapshot, build_status
from ha_pair.uci import parse
from tests.support import pair

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "luci-app-ha"
RESOURCES = APP / "htdocs" / "luci-static" / "resources"
STATUS_JS = RESOURCES / "view" / "ha" / "status.js"
SETTINGS_JS = RESOURCES / "view" / "ha" / "settings.js"
OVERVIEW_JS = RESOURCES / "view" / "status" / "include" / "70_ha.js"
JS_FILES = sorted(RESOURCES.rglob("*.js"))
MENU = APP / "root" / "usr" / "share" / "luci" / "menu.d" / "luci-app-ha.json"
ACL = APP / "root" / "usr" / "share" / "rpcd" / "acl.d" / "luci-app-ha.json"
POT = APP / "po" / "templates" / "luci-app-ha.pot"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: the JS files are not run")

# Modules luci-base provides to views: classes built into luci.js and the files in
# modules/luci-base/htdocs/luci-static/resources.
LUCI_MODULES = {
    "baseclass", "dom", "poll", "request", "session", "view", "rpc", "uci", "ui", "form", "fs", "network",
    "firewall", "validation", "xhr", "uqr", "tools.widgets", "tools.views", "tools.prng",
    "protocol.static", "protocol.dhcp",
}

# The documented `ubus call ha status` (README of the agent; fields may be null or missing).
DOCUMENTED_STATUS = {
    "version": 1, "time": 1795312000.123, "state": "master", "since": 1795311990.0,
    "last_transition": {"time": 1795311990.0, "scope": "group ha", "from": "backup", "to": "master",
                        "reason": "peer stopped advertising (it does not answer on the sync link either)"},
    "history_size": 7,
    "agent": {"pid": 1234, "version": "0.1.0", "started": 1795311000.0, "uptime_s": 1000, "ubus": True,
              "ubus_note": None},
    "config": {"valid": True, "errors": [], "digest": "0" * 64},
    "sync_group": {"name": "ha", "state": "master", "since": 1795311990.0},
    "node": {"name": "r1", "role": "primary", "priority": 150, "enabled": True, "vrrp_version": 2,
             "advert_int_cs": 100},
    "instances": {"lan": {"state": "master", "since": 1795311990.0, "interface": "lan", "device": "br-lan",
                          "vrid": 51, "vips": ["192.168.50.1/24"], "vips_present": True, "link": True}},
    "checks": {"upstream": {"type": "ping", "target": "198.51.100.254", "failure": "weight", "weight": -60,
                            "interval": 2, "fall": 3, "rise": 2, "result": "ok", "since": 1795311000.0,
                            "consecutive": 12, "last_run": 1795311998.0, "down": False}},
    "conntrack": {"enabled": True, "running": True, "mode": "ftfw", "transport": "unicast", "internal_active": 23,
                  "external_active": 4, "sync": {"device": "eth2", "bytes_sent": 4416, "bytes_recv": 1632},
                  "warnings": []},
    "dhcp": {"managed": True, "sections": ["lan"], "answering": True, "consistent": True},
    "peer": {"address": "10.255.0.2", "sync_interface": "sync", "sync_device": "eth2", "sync_link": True},
    "lease_sync": {"enabled": True, "peer_reachable": True, "last_push": 1795311999.0, "last_pull": 1795311990.0,
                   "last_error": None, "lag_s": 0.4, "leases_local": 12, "leases_peer": 12, "conflicts": 0,
                   "tombstones": 1, "clock_offset_s": 0.2},
}
HISTORY = {"history": [
    {"time": 1795311000.0, "scope": "group ha", "from": "unknown", "to": "backup", "reason": "agent started"},
    DOCUMENTED_STATUS["last_transition"],
]}


def built_status() -> dict:
    """What the agent's status builder really returns, with one check of each type."""
    extra = ("\nconfig check 'upstream'\n\toption type 'ping'\n\toption target '198.51.100.254'\n"
             "\nconfig check 'script'\n\toption type 'script'\n\toption script '/etc/ha-pair/check.sh'\n"
             "\nconfig check 'synclink'\n\toption type 'interface'\n\toption interface 'sync'\n"
             "\toption failure 'fault'\n")
    inputs = Inputs(ha=parse(pair.ha("r1", extra=extra), "ha"), network=parse(pair.network("r1"), "network"),
                    dhcp=parse(pair.dhcp(), "dhcp"), system=parse(pair.system("r1"), "system"))
    result = build_model(inputs, Paths(Path("/")), lambda path: True)
    assert result.ok
    state = PairState()
    for event in (VrrpEvent("INSTANCE", "lan", "MASTER", 150), VrrpEvent("INSTANCE", "wan", "MASTER", 150),
                  VrrpEvent("GROUP", "ha", "MASTER", 0)):
        state, _ = apply_event(state, event, 100.0, True, lambda f, t: f"{f} to {t}")
    snapshot = Snapshot(
        time=200.0, addresses={"br-lan": ["192.168.50.1"]}, carriers={"br-lan": True, "eth1": True, "eth2": True},
        checks={"upstream": CheckResult("ok", 150.0, 3, 199.0), "script": CheckResult("fail", 190.0, 1, 199.0)},
        conntrack={"running": True, "internal": {"active": 2}, "external": {"active": 1},
                   "sync": {"bytes_sent": 10}},
        dhcp_answering=True)
    return json.loads(json.dumps(build_status(result.model, state, snapshot, DOCUMENTED_STATUS["agent"])))


def merged(a, b):
    """Union of two samples: keys of either exist."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merged(a[k], b[k]) if k in a and k in b else (a[k] if k in a else b[k]) for k in {**a, **b}}
    return a if a is not None else b


SAMPLE = merged(DOCUMENTED_STATUS, built_status())


def has_path(sample, keys: list[str]) -> bool:
    """keys exist in sample; '*' is any entry of a name->entry map; walking stops at lists and values."""
    for i, key in enumerate(keys):
        if not isinstance(sample, dict):
            return True  # a method or property of a list or a value (join, length, ...)
        if key == "*":
            return any(has_path(entry, keys[i + 1:]) for entry in sample.values())
        if key not in sample:
            return False
        sample = sample[key]
    return True


def code_only(source: str) -> str:
    """JS source with comments removed and string literals emptied."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"(?m)^\s*//.*$", "", source)
    return re.sub(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|`(?:[^`\\]|\\.)*`", "''", source)


def requires(source: str) -> list[tuple[str, str]]:
    """The 'require x [as y]' directives at the top: (module, name in the file)."""
    found = []
    for line in source.splitlines()[1:]:
        match = re.fullmatch(r"'require ([\w.]+)(?: as (\w+))?';?", line.strip())
        if not match:
            break
        found.append((match.group(1), match.group(2) or match.group(1).split(".")[-1]))
    return found


# --- package shape ----------------------------------------------------------------------------------

def test_upstream_layout():
    for path in (APP / "Makefile", APP / "README.md", STATUS_JS, SETTINGS_JS, OVERVIEW_JS, MENU, ACL, POT):
        assert path.is_file(), path
    assert [p.relative_to(RESOURCES).as_posix() for p in JS_FILES] == [
        "view/ha/settings.js", "view/ha/status.js", "view/status/include/70_ha.js"]


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


def test_acl_is_least_privilege():
    acl = json.loads(ACL.read_text())
    assert list(acl) == ["luci-app-ha"]
    grant = acl["luci-app-ha"]
    assert grant["read"] == {"ubus": {"ha": ["status", "history"]}, "uci": ["ha"]}
    assert grant["write"] == {"uci": ["ha"]}
    assert set(grant) == {"description", "read", "write"}
    assert "*" not in ACL.read_text()


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

@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_js_is_strict_and_requires_only_luci_modules_it_uses(path: Path):
    source = path.read_text()
    assert source.startswith("'use strict';\n")
    found = requires(source)
    assert found, "no 'require' directives"
    body = code_only(source)
    for module, name in found:
        assert module in LUCI_MODULES, f"{path.name}: unknown module {module}"
        assert re.search(rf"\b{name}\.", body), f"{path.name}: requires {module} but does not use it"


@needs_node
@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_js_parses(path: Path):
    run = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_status_views_are_read_only_and_polled():
    source = code_only(STATUS_JS.read_text())
    for handler in ("handleSave", "handleSaveApply", "handleReset"):
        assert re.search(rf"\b{handler}: null\b", source), handler
    assert re.search(r"poll\.add\(.*, 5\)", source, re.S)
    for path in (STATUS_JS, OVERVIEW_JS):
        declared = re.findall(r"rpc\.declare\(\{\s*object: '(\w+)',\s*method: '(\w+)'", path.read_text())
        assert declared and set(declared) <= {("ha", "status"), ("ha", "history")}, path.name
        assert "expect:" not in path.read_text(), "expect would replace a ubus error code by a default"


# --- translations -----------------------------------------------------------------------------------

def js_strings(path: Path) -> set[str]:
    source = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    calls = re.findall(r"(?<![\w.$])_\(\s*(.)", source)
    assert all(q in "'\"" for q in calls), f"{path.name}: _() with something else than a string literal"
    found = re.findall(r"(?<![\w.$])_\(\s*('(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")\s*[,)]", source)
    assert len(found) == len(calls), f"{path.name}: a _() string is not one plain literal"
    return {re.sub(r"\\(.)", r"\1", literal[1:-1]) for literal in found}


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
    used = set().union(*(js_strings(p) for p in JS_FILES)) | json_strings()
    assert sorted(used - set(msgids)) == [], "used but missing from the .pot"
    assert sorted(set(msgids) - used) == [], "in the .pot but used nowhere"


# --- settings form against the config schema ----------------------------------------------------------

def form_options() -> dict[str, dict[str, dict]]:
    """section type -> option -> {widget, default, datatype, rmempty, values}, read from settings.js."""
    source = SETTINGS_JS.read_text()
    sections: dict[str, dict[str, dict]] = {}
    current = None
    for statement in re.split(r"\n(?=\t\t(?:s|o) = )", source):
        section = re.match(r"\t\ts = m\.section\(form\.(\w+), '(\w+)'(?:, '(\w+)')?", statement)
        if section:
            kind, first, second = section.groups()
            current = sections.setdefault(second if kind == "NamedSection" else first, {})
            continue
        option = re.match(r"\t\to = s\.(?:taboption\('\w+', |option\()([\w.]+), '(\w+)'", statement)
        if option:
            assert current is not None
            widget, name = option.groups()
            default = re.search(r"o\.default = '([^']*)'", statement)
            datatype = re.search(r"o\.datatype = '([^']*)'", statement)
            rmempty = re.search(r"o\.rmempty = (\w+)", statement)
            current[name] = {"widget": widget, "default": default and default.group(1),
                             "datatype": datatype and datatype.group(1), "rmempty": rmempty and rmempty.group(1),
                             "values": re.findall(r"o\.value\('([^']*)'", statement)}
    return sections


def number(x: float) -> str:
    return f"{x:g}"


def test_settings_form_covers_the_schema_with_matching_widgets():
    form = form_options()
    assert set(form) == set(schema.SECTION_TYPES)
    for type_name, section_type in schema.SECTION_TYPES.items():
        options = form[type_name]
        assert set(options) == {o.name for o in section_type.options}, type_name
        for spec in section_type.options:
            got = options[spec.name]
            where = f"ha.{type_name}.{spec.name}"
            if spec.kind == schema.BOOL:
                # a real checkbox whose default is the agent's: unset and default mean the same
                assert got["widget"] == "form.Flag" and got["default"] == spec.default, where
            elif spec.is_list:
                assert got["widget"] == "form.DynamicList", where
            elif spec.kind == schema.ENUM:
                assert got["widget"] == "form.ListValue", where
                assert set(got["values"]) - {""} == set(spec.choices), where
                if spec.default is None:  # required: a new section gets a valid choice
                    assert got["default"] in spec.choices and got["rmempty"] == "false", where
                elif spec.default in spec.choices:
                    assert got["default"] == spec.default, where
                else:  # default depends on another option: the empty choice leaves it unset
                    assert "" in got["values"] and got["default"] is None, where
            else:
                assert got["widget"] != "form.Flag", where
            if spec.minimum is not None:
                assert f"range({number(spec.minimum)},{number(spec.maximum)})" in (got["datatype"] or ""), where
            if spec.kind == schema.CIDR:
                assert got["datatype"] == "cidr", where
            if spec.kind == schema.IPV4:
                assert got["datatype"] == 'ip4addr("nomask")', where
            if spec.kind == schema.IP:
                assert got["datatype"] == 'ipaddr("nomask")', where
    assert "password = true" in SETTINGS_JS.read_text()


def test_settings_dependencies_follow_the_agent():
    source = SETTINGS_JS.read_text()
    for option, dependency in (("auth_pass", "'auth_type', 'pass'"), ("target", "'type', 'ping'"),
                               ("script", "'type', 'script'"), ("weight", "'failure', 'weight'"),
                               ("unicast_peer", "'ha.global.unicast', '1'"),
                               ("multicast_group", "'transport', 'multicast'")):
        block = re.search(rf"[\w.]+, '{option}', _\(.*?(?=\n\n)", source, re.S).group(0)
        assert f"o.depends({dependency})" in block, option


# --- what the status views read ---------------------------------------------------------------------

# Local names of status.js / 70_ha.js for parts of the status, and how each is declared.
ALIASES = {
    "st": ([], None),
    "node": (["node"], r"node = obj\(st\.node\)"),
    "agent": (["agent"], r"agent = obj\(st\.agent\)"),
    "grp": (["sync_group"], r"grp = obj\(st\.sync_group\)"),
    "lt": (["last_transition"], r"lt = obj\(st\.last_transition\)"),
    "cfg": (["config"], r"cfg = obj\(st\.config\)"),
    "instances": (["instances"], r"instances = obj\(st\.instances\)"),
    "inst": (["instances", "*"], r"inst = obj\(instances\[name\]\)"),
    "checks": (["checks"], r"checks = obj\(st\.checks\)"),
    "chk": (["checks", "*"], r"chk = obj\(checks\[name\]\)"),
    "ct": (["conntrack"], r"ct = obj\(st\.conntrack\)"),
    "sync": (["conntrack", "sync"], r"sync = obj\(ct\.sync\)"),
    "dhcp": (["dhcp"], r"dhcp = obj\(st\.dhcp\)"),
    "peer": (["peer"], r"peer = obj\(st\.peer\)"),
    "ls": (["lease_sync"], r"ls = obj\(st\.lease_sync\)"),
}


@pytest.mark.parametrize("path", [STATUS_JS, OVERVIEW_JS], ids=lambda p: p.name)
def test_status_views_read_only_fields_the_status_has(path: Path):
    source = code_only(path.read_text())
    unknown = []
    for alias, (prefix, declaration) in ALIASES.items():
        uses = re.findall(rf"(?<![\w.$]){alias}((?:\.[A-Za-z_]\w*)+)", source)
        if declaration and uses:
            assert re.search(declaration, source), f"{alias} is not declared as {declaration}"
        unknown += [f"{alias}{chain}" for chain in uses if not has_path(SAMPLE, prefix + chain[1:].split("."))]
    assert unknown == []


HARNESS = r"""
'use strict';
// Runs a LuCI view or status include with minimal stand-ins for LuCI; prints the rendered text and
// every field of the ubus replies that the view read.
const fs = require('fs');
const [file, scenarioFile] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioFile, 'utf8'));
const seen = new Set();
const polls = [];

function track(value, path) {
	if (value === null || typeof value !== 'object')
		return value;
	return new Proxy(value, {
		get(target, prop, receiver) {
			if (typeof prop !== 'string' || prop === 'then' || prop === 'toJSON')
				return Reflect.get(target, prop, receiver);
			if (Array.isArray(target))
				return /^\d+$/.test(prop) ? track(target[prop], path + '[]') : Reflect.get(target, prop, receiver);
			if (prop in Object.prototype)
				return Reflect.get(target, prop, receiver);
			seen.add(path + '.' + prop);
			return track(target[prop], path + '.' + prop);
		}
	});
}

String.prototype.format = function() {
	const args = arguments;
	let i = 0;
	return this.replace(/%(\d+)?(?:\.(\d+))?([sdftm%])/g, (m, width, prec, type) => {
		if (type === '%')
			return '%';
		if (i >= args.length)
			throw new Error('format: too few arguments for ' + JSON.stringify(String(this)));
		const arg = args[i++];
		switch (type) {
		case 'd': return String(Math.floor(+arg));
		case 'f': return prec != null ? (+arg).toFixed(+prec) : String(+arg);
		case 't': return String(arg) + 's';
		case 'm': return String(arg);
		default: return String(arg);
		}
	});
};

global._ = (s) => s;
global.L = {
	isObject: (v) => v != null && typeof v === 'object',
	resolveDefault: (p, d) => Promise.resolve(p).catch(() => d),
	url: (...parts) => '/cgi-bin/luci/' + parts.join('/')
};
global.E = function(tag, attrs, children) {
	if (attrs != null && (typeof attrs !== 'object' || Array.isArray(attrs) || attrs.tag)) {
		children = attrs;
		attrs = {};
	}
	const node = { tag: tag, attrs: attrs || {}, children: [] };
	node.appendChild = (child) => { node.children.push(child); return child; };
	for (const child of [].concat(children == null ? [] : children).flat(Infinity))
		if (child != null)
			node.children.push(child);
	return node;
};

const stubs = {
	baseclass: { extend: (o) => o },
	view: { extend: (o) => o },
	dom: { content: (node, content) => { node.children = [ content ]; } },
	poll: { add: (fn, interval) => polls.push([ fn, interval ]) },
	uci: {
		load: () => Promise.resolve(),
		get: (config, section, option) => ((scenario.uci || {})[section] || {})[option] ?? null
	},
	rpc: {
		declare: (o) => () => {
			const reply = scenario.rpc[o.object + '.' + o.method];
			if (reply && reply.__reject)
				return Promise.reject(new Error(reply.__reject));
			return Promise.resolve(track(reply, o.method));
		},
		getStatusText: (code) => 'ubus status ' + code
	}
};

function text(node) {
	if (typeof node === 'string' || typeof node === 'number')
		return String(node);
	if (node && typeof node === 'object' && node.tag && Array.isArray(node.children))
		return node.children.map(text).join(' ') + (node.attrs.href ? ' <' + node.attrs.href + '>' : '');
	return '[not a node: ' + Object.prototype.toString.call(node) + ']';
}

(async () => {
	const source = fs.readFileSync(file, 'utf8');
	const names = [], modules = [];
	for (const m of source.matchAll(/^'require ([\w.]+)(?: as (\w+))?';?$/mg)) {
		if (!(m[1] in stubs))
			throw new Error('no stand-in for ' + m[1]);
		names.push(m[2] || m[1].split('.').pop());
		modules.push(stubs[m[1]]);
	}
	const mod = new Function(...names, source)(...modules);
	const data = await mod.load();
	const out = mod.render(data);
	for (const [fn] of polls)
		await fn();
	process.stdout.write(JSON.stringify({
		title: mod.title || null,
		text: text(out).replace(/\s+/g, ' '),
		paths: [...seen].sort(),
		polls: polls.map((p) => p[1])
	}));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
"""


def run_view(tmp_path: Path, view: Path, status, history=None, uci=None) -> dict:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"rpc": {"ha.status": status, "ha.history": history if history is not None
                                            else HISTORY},
                                    "uci": uci if uci is not None else {"global": {"enabled": "1"}}}))
    run = subprocess.run([NODE, str(harness), str(view), str(scenario)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    for bad in ("undefined", "NaN", "[object", "[not a node"):
        assert bad not in result["text"], result["text"]
    return result


def read_fields_exist(paths: list[str]) -> list[str]:
    """Fields the view read that no sample has ('status.error' is the agent's error convention)."""
    roots = {"status": SAMPLE, "history": HISTORY}
    missing = []
    for path in paths:
        if path == "status.error":
            continue
        keys = path.replace("[]", ".0").split(".")
        value = roots[keys[0]]
        for key in keys[1:]:
            if isinstance(value, list):
                value = value[int(key)] if key.isdigit() and value else None
                continue
            if not isinstance(value, dict) or key not in value:
                missing.append(path)
                break
            value = value[key]
    return missing


@needs_node
def test_status_page_shows_a_real_status(tmp_path: Path):
    result = run_view(tmp_path, STATUS_JS, SAMPLE)
    text = result["text"]
    for expected in ("Master", "r1", "Primary", "peer stopped advertising", "br-lan", "192.168.50.1/24",
                     "upstream", "198.51.100.254", "/etc/ha-pair/check.sh", "sync (eth2)", "Lease sync",
                     "Connection sync", "agent started", "This node answers DHCP"):
        assert expected in text, expected
    assert result["polls"] == [5]
    assert read_fields_exist(result["paths"]) == []
    assert "status.lease_sync.lag_s" in result["paths"] and "history.history[].reason" in result["paths"]


@needs_node
def test_status_page_copes_with_an_invalid_configuration_and_unknowns(tmp_path: Path):
    invalid = {key: SAMPLE[key] for key in ("version", "time", "history_size", "agent")}
    invalid.update(state="unknown", since=None, last_transition=None, sync_group=None,
                   config={"valid": False, "errors": ["ha.lan.vrid: '300' is outside 1-255"], "digest": None})
    text = run_view(tmp_path, STATUS_JS, invalid, history={"history": []})["text"]
    assert "/etc/config/ha is invalid" in text and "ha.lan.vrid: '300' is outside 1-255" in text
    assert "No transition recorded yet." in text and "Virtual IPs" not in text


@needs_node
@pytest.mark.parametrize("status, uci, expected", [
    (4, {"global": {"enabled": "1"}}, "The ha-pair agent is not running: /etc/init.d/ha-pair start"),
    (4, {"global": {"enabled": "0"}}, "ha-pair is disabled on this router"),
    (7, None, "did not answer in time"),
    ({"__reject": "RPC call to ha/status failed with error -32002: Access denied"}, None, "Access denied"),
    ({"error": "status failed: boom"}, None, "The ha-pair agent reported an error: status failed: boom"),
], ids=["not-running", "disabled", "timeout", "acl", "agent-error"])
def test_status_page_explains_why_there_is_no_status(tmp_path: Path, status, uci, expected):
    assert expected in run_view(tmp_path, STATUS_JS, status, uci=uci)["text"]


@needs_node
def test_overview_widget(tmp_path: Path):
    result = run_view(tmp_path, OVERVIEW_JS, SAMPLE)
    assert result["title"] == "High Availability"
    for expected in ("Master", "r1 (Primary, priority 150)", "Backup → Master", "peer stopped advertising",
                     "/cgi-bin/luci/admin/services/ha/status"):
        assert expected in result["text"], expected
    assert read_fields_exist(result["paths"]) == []
    assert "not running" in run_view(tmp_path, OVERVIEW_JS, 4)["text"]
