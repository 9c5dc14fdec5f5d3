"""rpcd's ACLs over HTTP, as LuCI's logins meet them: uhttpd's /ubus, rpcd's sessions built from
the real luci-base, luci-mod-status and luci-app-ha ACL files and /etc/config/rpcd logins with
crypt hashes. A login with only luci-app-ha's group, a read-only one and an administrator get
exactly what the ACL files say, no more."""

from __future__ import annotations

import fnmatch
import json
import time

import pytest

from tests.controlplane.http import NULL_SESSION, login, rpc, ubus
from tests.controlplane.router import BASE
from tests.controlplane.stack import USERS

USER = {u.name: u for u in USERS}
OK = "ok"
DENIED = "denied"  # uhttpd refused the call: JSON-RPC -32002
REFUSED = "refused:6"  # the object itself refused (rpcd's uci or file scope): ubus status 6


def permitted(patterns: tuple[str, ...], group: str) -> bool:
    """rpcd's rule for one login list: `!pattern` denies first, then any fnmatch allows."""
    if any(p.startswith("!") and fnmatch.fnmatchcase(group, p[1:].strip()) for p in patterns):
        return False
    return any(not p.startswith("!") and fnmatch.fnmatchcase(group, p) for p in patterns)


def expected_acls(acl_files: list[tuple[str, dict]], user) -> dict:
    """The session rpcd should build for `user` (write implies read), from the ACL files alone
    (a group may be defined in several files: rpcd adds them up)."""
    grants: dict[str, dict[str, set]] = {}

    def grant(scope: str, obj: str, function: str) -> None:
        grants.setdefault(scope, {}).setdefault(obj, set()).add(function)

    for group, spec in acl_files:
        for level in ("read", "write"):
            allowed = permitted(user.write, group) or (level == "read" and permitted(user.read, group))
            if not allowed or level not in spec:
                continue
            grant("access-group", group, level)
            for scope, objects in spec[level].items():
                if isinstance(objects, dict):
                    for obj, functions in objects.items():
                        for function in functions:
                            grant(scope, obj, function)
                else:
                    for obj in objects:
                        grant(scope, obj, level)
    return {scope: {obj: sorted(functions) for obj, functions in objs.items()} for scope, objs in grants.items()}


def outcome(reply: dict) -> str:
    if "error" in reply:
        return DENIED if reply["error"]["code"] == -32002 else f"error {reply['error']['code']}"
    status = reply["result"][0]
    return OK if status == 0 else f"refused:{status}"


@pytest.fixture(scope="module")
def sessions(router):
    return {name: login(router.namespace, BASE, name, USER[name].password) for name in ("ha-admin", "ha-viewer", "ha-only")}


@pytest.fixture(scope="module")
def acl_files(router):
    return [(group, spec) for path in sorted((router.root / "usr/share/rpcd/acl.d").glob("*.json"))
            for group, spec in json.loads(path.read_text()).items()]


@pytest.mark.parametrize("name", ["ha-admin", "ha-viewer", "ha-only"])
def test_a_session_holds_exactly_the_grants_of_its_groups(router, acl_files, name):
    reply = ubus(router.namespace, BASE, [rpc(NULL_SESSION, "session", "login",
                                             {"username": name, "password": USER[name].password})])[0]
    granted = {scope: {obj: sorted(functions) for obj, functions in objs.items()}
               for scope, objs in reply["result"][1]["acls"].items()}
    assert granted == expected_acls(acl_files, USER[name])


def test_luci_app_ha_alone_grants_the_status_the_plugin_and_uci_ha_only(router, sessions):
    reply = ubus(router.namespace, BASE, [rpc(sessions["ha-only"], "session", "access")])[0]
    assert reply["error"]["code"] == -32002  # not even `session access`: no unauthenticated group
    login_reply = ubus(router.namespace, BASE, [rpc(NULL_SESSION, "session", "login",
                                                    {"username": "ha-only", "password": "only-pass"})])[0]
    acls = login_reply["result"][1]["acls"]
    assert acls == {"access-group": {"luci-app-ha": ["read", "write"]},
                    "ubus": {"ha": ["status", "history"], "luci.ha": ["interfaces", "validate"]},
                    "uci": {"ha": ["read", "write"]}}


CALLS = [
    # (object, method, args, {user: expected outcome})
    ("ha", "status", {}, {"ha-admin": OK, "ha-viewer": OK, "ha-only": OK}),
    ("ha", "history", {}, {"ha-admin": OK, "ha-viewer": OK, "ha-only": OK}),
    ("luci.ha", "interfaces", {}, {"ha-admin": OK, "ha-viewer": OK, "ha-only": OK}),
    ("luci.ha", "validate", {"config": {}}, {"ha-admin": OK, "ha-viewer": DENIED, "ha-only": OK}),
    # moving the VIPs: luci-app-ha-operate (write) only; on this lone router both answer with a refusal
    ("ha", "handover", {}, {"ha-admin": OK, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("ha", "maintenance", {"state": "sideways"}, {"ha-admin": OK, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("luci.ha", "config_sync", {"dry_run": True}, {"ha-admin": OK, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("uci", "get", {"config": "ha"}, {"ha-admin": OK, "ha-viewer": OK, "ha-only": DENIED}),
    ("uci", "get", {"config": "network"}, {"ha-admin": REFUSED, "ha-viewer": REFUSED, "ha-only": DENIED}),
    ("uci", "get", {"config": "dhcp"}, {"ha-admin": REFUSED, "ha-viewer": REFUSED, "ha-only": DENIED}),
    ("uci", "get", {"config": "rpcd"}, {"ha-admin": REFUSED, "ha-viewer": REFUSED, "ha-only": DENIED}),
    ("uci", "set", {"config": "network", "section": "lan", "values": {"ipaddr": "192.0.2.9"}},
     {"ha-admin": REFUSED, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("uci", "set", {"config": "ha", "section": "global", "values": {"preempt_delay": "7"}},
     {"ha-admin": OK, "ha-viewer": DENIED, "ha-only": DENIED}),
    # luci-mod-status-index grants `file read`, but only of three paths
    ("file", "read", {"path": "/etc/config/rpcd"}, {"ha-admin": REFUSED, "ha-viewer": REFUSED, "ha-only": DENIED}),
    ("file", "exec", {"command": "/bin/true"}, {"ha-admin": DENIED, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("rc", "list", {}, {"ha-admin": DENIED, "ha-viewer": DENIED, "ha-only": DENIED}),
    ("uci", "commit", {"config": "ha"}, {"ha-admin": DENIED, "ha-viewer": DENIED, "ha-only": DENIED}),
]


def test_every_call_gets_what_the_acl_says(router, sessions):
    before = (router.root / "etc/config/ha").read_text()
    calls, expected = [], []
    for obj, method, args, by_user in CALLS:
        for user, want in by_user.items():
            calls.append(rpc(sessions[user], obj, method, args))
            expected.append((user, obj, method, json.dumps(args), want))
    replies = ubus(router.namespace, BASE, calls)
    got = [(user, obj, method, args, outcome(reply)) for (user, obj, method, args, _), reply in zip(expected, replies)]
    assert got == expected
    # the administrator's `uci set` is only staged in its session: nothing reached the file
    assert (router.root / "etc/config/ha").read_text() == before
    ubus(router.namespace, BASE, [rpc(sessions["ha-admin"], "uci", "revert", {"config": "ha"})])


def test_apply_with_rollback_reverts_unless_confirmed(router, sessions):
    """What LuCI's Save & Apply does underneath: rpcd applies the staged change and restores the
    old file unless the same session confirms within the timeout."""
    sid = sessions["ha-admin"]
    config = router.root / "etc/config/ha"
    before = config.read_text()
    ns = router.namespace

    def stage_and_apply() -> None:
        replies = ubus(ns, BASE, [rpc(sid, "uci", "set", {"config": "ha", "section": "global",
                                                         "values": {"preempt_delay": "9"}}),
                                  rpc(sid, "uci", "apply", {"rollback": True, "timeout": 2})])
        assert [outcome(r) for r in replies] == [OK, OK]
        assert "option preempt_delay '9'" in config.read_text()

    stage_and_apply()
    deadline = time.monotonic() + 10
    while config.read_text() != before:
        assert time.monotonic() < deadline, "rpcd did not roll back"
        time.sleep(0.1)
    # staged again in the session after the rollback (rpcd restores the delta): revert it, then
    # apply again and confirm: the change stays
    ubus(ns, BASE, [rpc(sid, "uci", "revert", {"config": "ha"})])
    stage_and_apply()
    assert [outcome(r) for r in ubus(ns, BASE, [rpc(sid, "uci", "confirm")])] == [OK]
    time.sleep(2.5)
    assert "option preempt_delay '9'" in config.read_text()
    router.root.joinpath("etc/config/ha").write_text(before)
